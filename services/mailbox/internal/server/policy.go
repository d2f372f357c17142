package server

import "github.com/tandemhq/tandem/platform/authz"

const svc = "/tandem.mailbox.v1.MailboxService/"

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one). Sending is asked for by outreach, never
// by a person directly: a recruiter's one-off e-mail goes through
// outreach's conversation. A mailbox's health is for its owner and the
// organization's admins, which the mailboxes package decides per mailbox.
var Policy = authz.Policy{
	svc + "SubmitMessage":    authz.Internal(),
	svc + "GetMessage":       authz.Internal(),
	svc + "ListMessages":     authz.Internal(),
	svc + "CancelMessage":    authz.Internal(),
	svc + "GetMailboxHealth": authz.AnyMember(),
	svc + "ListMailboxes":    authz.AtLeast(authz.RoleAdmin),

	// Inbound mail (issue 12 items 5 and 6). The gateway hands over Graph's
	// notifications and the send pipeline checks recipients: services only.
	// A user reads their own mailbox's inbound state; whose mailbox is the
	// inbound package's rule (admins read any of the organization's).
	inboundSvc + "AcceptNotifications": authz.Internal(),
	inboundSvc + "CheckRecipients":     authz.Internal(),
	inboundSvc + "ListInboundMessages": authz.AnyMember(),
	inboundSvc + "GetInboundSyncState": authz.AnyMember(),
}

const inboundSvc = "/tandem.mailbox.v1.MailboxInboundService/"
