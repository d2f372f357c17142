package server

import "github.com/tandemhq/tandem/platform/authz"

const svc = "/tandem.outreach.v1.OutreachService/"

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one). Every member reads candidates; Recruiters
// and above change them and move them between stages;
// Admins and above shape the stage set (DESIGN §4). Jobs are managed by
// Recruiters and above, who hire for them, and read by every member, who
// refer people to them (ADR 18); referrals are made by every member, who
// sees their own (the referrals package's rule); conversations are e-mail
// with candidates, read from Hiring Manager up and recorded by services only.
var Policy = authz.Policy{
	svc + "CreateCandidate":       authz.AtLeast(authz.RoleRecruiter),
	svc + "GetCandidate":          authz.AnyMember(),
	svc + "UpdateCandidate":       authz.AtLeast(authz.RoleRecruiter),
	svc + "ListCandidates":        authz.AnyMember(),
	svc + "SearchCandidates":      authz.AnyMember(),
	svc + "DeleteCandidate":       authz.AtLeast(authz.RoleRecruiter),
	svc + "UndeleteCandidate":     authz.AtLeast(authz.RoleRecruiter),
	svc + "MergeCandidates":       authz.AtLeast(authz.RoleRecruiter),
	svc + "BatchCreateCandidates": authz.AtLeast(authz.RoleRecruiter),
	svc + "ListStages":            authz.AnyMember(),
	// atsbridge's stage mapping covers the organization's stages.
	svc + "ListStagesForService": authz.Internal(),
	// atsbridge reads what a push writes of a candidate.
	svc + "GetCandidateForSync": authz.Internal(),
	svc + "CreateStage":         authz.AtLeast(authz.RoleAdmin),
	svc + "UpdateStage":         authz.AtLeast(authz.RoleAdmin),
	svc + "ReorderStages":       authz.AtLeast(authz.RoleAdmin),
	svc + "RetireStage":         authz.AtLeast(authz.RoleAdmin),
	svc + "MoveCandidateStage":  authz.AtLeast(authz.RoleRecruiter),
	svc + "ListTimeline":        authz.AnyMember(),
	// Who may change or see a particular note (its author, admins) is the
	// notes package's rule.
	svc + "CreateNote": authz.AtLeast(authz.RoleHiringManager),
	svc + "ListNotes":  authz.AnyMember(),
	svc + "UpdateNote": authz.AnyMember(),
	svc + "DeleteNote": authz.AnyMember(),

	svc + "CreateCustomFieldDefinition": authz.AtLeast(authz.RoleAdmin),
	svc + "ListCustomFieldDefinitions":  authz.AnyMember(),

	svc + "CreateJob": authz.AtLeast(authz.RoleRecruiter),
	svc + "GetJob":    authz.AnyMember(),
	svc + "UpdateJob": authz.AtLeast(authz.RoleRecruiter),
	svc + "ListJobs":  authz.AnyMember(),
	svc + "CloseJob":  authz.AtLeast(authz.RoleRecruiter),

	// Who sees which referral (a member: their own) is the referrals
	// package's rule.
	svc + "CreateReferral": authz.AnyMember(),
	svc + "GetReferral":    authz.AnyMember(),
	svc + "ListReferrals":  authz.AnyMember(),

	svc + "ListConversations": authz.AtLeast(authz.RoleHiringManager),
	svc + "GetConversation":   authz.AtLeast(authz.RoleHiringManager),
	// The mailbox service and outreach's flows record messages; the
	// organization comes in the request, which only a service may name.
	svc + "RecordConversationMessage": authz.Internal(),
	// Files follow notes: whoever may see a candidate may read its files
	// (every member sees candidates); Hiring Managers and above add them,
	// as they add notes (feedback, a scorecard). Who may delete a
	// particular file (Recruiters and above any, others their own) is the
	// files package's rule.
	svc + "UploadCandidateFile":   authz.AtLeast(authz.RoleHiringManager),
	svc + "ListCandidateFiles":    authz.AnyMember(),
	svc + "GetCandidateFile":      authz.AnyMember(),
	svc + "DownloadCandidateFile": authz.AnyMember(),
	svc + "DeleteCandidateFile":   authz.AtLeast(authz.RoleHiringManager),
	// Flows: who may change a particular flow (its owner, Admins and
	// above) is the flows package's rule; Members and Hiring Managers
	// read them.
	svc + "CreateFlow":              authz.AtLeast(authz.RoleRecruiter),
	svc + "GetFlow":                 authz.AnyMember(),
	svc + "ListFlows":               authz.AnyMember(),
	svc + "UpdateFlow":              authz.AtLeast(authz.RoleRecruiter),
	svc + "GetFlowVersion":          authz.AnyMember(),
	svc + "ActivateFlow":            authz.AtLeast(authz.RoleRecruiter),
	svc + "PauseFlow":               authz.AtLeast(authz.RoleRecruiter),
	svc + "ResumeFlow":              authz.AtLeast(authz.RoleRecruiter),
	svc + "CompleteFlow":            authz.AtLeast(authz.RoleRecruiter),
	svc + "ArchiveFlow":             authz.AtLeast(authz.RoleRecruiter),
	svc + "PreviewFlowStep":         authz.AnyMember(),
	svc + "EnrollCandidates":        authz.AtLeast(authz.RoleRecruiter),
	svc + "ListEnrollments":         authz.AnyMember(),
	svc + "GetEnrollment":           authz.AnyMember(),
	svc + "RemoveEnrollment":        authz.AtLeast(authz.RoleRecruiter),
	svc + "PauseEnrollment":         authz.AtLeast(authz.RoleRecruiter),
	svc + "ResumeEnrollment":        authz.AtLeast(authz.RoleRecruiter),
	svc + "GetFlowStats":            authz.AnyMember(),
	svc + "GrantSendingDelegation":  authz.AtLeast(authz.RoleRecruiter),
	svc + "ListSendingDelegations":  authz.AtLeast(authz.RoleRecruiter),
	svc + "RevokeSendingDelegation": authz.AtLeast(authz.RoleRecruiter),

	// One-off e-mails: Recruiters and above write to candidates.
	svc + "SendCandidateEmail":   authz.AtLeast(authz.RoleRecruiter),
	svc + "ListCandidateEmails":  authz.AtLeast(authz.RoleRecruiter),
	svc + "CancelCandidateEmail": authz.AtLeast(authz.RoleRecruiter),
}
