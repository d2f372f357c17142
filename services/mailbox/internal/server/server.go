// Package server is the gRPC handler of the mailbox service: it translates protos
// and errors and nothing else.
package server

import (
	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{
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

// Server implements mailboxv1.MailboxServiceServer.
type Server struct {
	mailboxv1.UnimplementedMailboxServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
