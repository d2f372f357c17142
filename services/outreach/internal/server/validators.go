package server

import (
	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

var errUnexpected = apperr.InvalidArgument("", "unexpected request type")

func fieldRequired(field string) error { return apperr.InvalidArgument(field, "is required") }

func required[T any](field string, get func(T) string) grpcserver.Validator {
	return func(req any) error {
		r, ok := req.(T)
		if !ok {
			return apperr.InvalidArgument("", "unexpected request type")
		}
		if get(r) == "" {
			return apperr.InvalidArgument(field, "is required")
		}
		return nil
	}
}

// present checks that a request carries its candidate.
func present[T any](field string, has func(T) bool) grpcserver.Validator {
	return func(req any) error {
		r, ok := req.(T)
		if !ok {
			return apperr.InvalidArgument("", "unexpected request type")
		}
		if !has(r) {
			return apperr.InvalidArgument(field, "is required")
		}
		return nil
	}
}

func both(a, b grpcserver.Validator) grpcserver.Validator {
	return func(req any) error {
		if err := a(req); err != nil {
			return err
		}
		return b(req)
	}
}

// Validators check requests before the handlers run; the domain checks
// the fields of a candidate and what depends on the stored data.
var Validators = map[string]grpcserver.Validator{
	svc + "CreateCandidate": present("candidate", func(r *outreachv1.CreateCandidateRequest) bool { return r.GetCandidate() != nil }),
	svc + "GetCandidate":    required("candidate_id", (*outreachv1.GetCandidateRequest).GetCandidateId),
	svc + "UpdateCandidate": both(
		required("candidate.id", func(r *outreachv1.UpdateCandidateRequest) string { return r.GetCandidate().GetId() }),
		present("update_mask", func(r *outreachv1.UpdateCandidateRequest) bool { return len(r.GetUpdateMask().GetPaths()) > 0 })),
	svc + "DeleteCandidate":   required("candidate_id", (*outreachv1.DeleteCandidateRequest).GetCandidateId),
	svc + "UndeleteCandidate": required("candidate_id", (*outreachv1.UndeleteCandidateRequest).GetCandidateId),
	svc + "MergeCandidates": both(
		required("survivor_id", (*outreachv1.MergeCandidatesRequest).GetSurvivorId),
		required("merged_id", (*outreachv1.MergeCandidatesRequest).GetMergedId)),
	svc + "CreateStage":   present("stage", func(r *outreachv1.CreateStageRequest) bool { return r.GetStage() != nil }),
	svc + "UpdateStage":   required("stage.id", func(r *outreachv1.UpdateStageRequest) string { return r.GetStage().GetId() }),
	svc + "ReorderStages": present("stage_ids", func(r *outreachv1.ReorderStagesRequest) bool { return len(r.GetStageIds()) > 0 }),
	svc + "RetireStage":   required("stage_id", (*outreachv1.RetireStageRequest).GetStageId),
	svc + "MoveCandidateStage": both(
		required("candidate_id", (*outreachv1.MoveCandidateStageRequest).GetCandidateId),
		required("stage_id", (*outreachv1.MoveCandidateStageRequest).GetStageId)),
	svc + "ListTimeline": required("candidate_id", (*outreachv1.ListTimelineRequest).GetCandidateId),
	svc + "CreateNote": both(
		required("candidate_id", (*outreachv1.CreateNoteRequest).GetCandidateId),
		noteVisibility(func(req any) (*outreachv1.Note, []string, bool) {
			r, ok := req.(*outreachv1.CreateNoteRequest)
			return r.GetNote(), nil, ok
		})),
	svc + "ListNotes": required("candidate_id", (*outreachv1.ListNotesRequest).GetCandidateId),
	svc + "UpdateNote": both(
		required("note.id", func(r *outreachv1.UpdateNoteRequest) string { return r.GetNote().GetId() }),
		noteVisibility(func(req any) (*outreachv1.Note, []string, bool) {
			r, ok := req.(*outreachv1.UpdateNoteRequest)
			return r.GetNote(), append([]string{}, r.GetUpdateMask().GetPaths()...), ok
		})),
	svc + "DeleteNote": required("note_id", (*outreachv1.DeleteNoteRequest).GetNoteId),
	svc + "CreateCustomFieldDefinition": present("definition", func(r *outreachv1.CreateCustomFieldDefinitionRequest) bool {
		return r.GetDefinition() != nil
	}),
	svc + "CreateJob": present("job", func(r *outreachv1.CreateJobRequest) bool { return r.GetJob() != nil }),
	svc + "GetJob":    required("job_id", (*outreachv1.GetJobRequest).GetJobId),
	svc + "UpdateJob": both(
		required("job.id", func(r *outreachv1.UpdateJobRequest) string { return r.GetJob().GetId() }),
		present("update_mask", func(r *outreachv1.UpdateJobRequest) bool { return len(r.GetUpdateMask().GetPaths()) > 0 })),
	svc + "CloseJob":          required("job_id", (*outreachv1.CloseJobRequest).GetJobId),
	svc + "CreateReferral":    present("referral", func(r *outreachv1.CreateReferralRequest) bool { return r.GetReferral() != nil }),
	svc + "GetReferral":       required("referral_id", (*outreachv1.GetReferralRequest).GetReferralId),
	svc + "ListConversations": required("candidate_id", (*outreachv1.ListConversationsRequest).GetCandidateId),
	svc + "GetConversation":   required("conversation_id", (*outreachv1.GetConversationRequest).GetConversationId),
	svc + "RecordConversationMessage": both(
		required("organization_id", (*outreachv1.RecordConversationMessageRequest).GetOrganizationId),
		present("message", func(r *outreachv1.RecordConversationMessageRequest) bool { return r.GetMessage() != nil })),

	// Files. On the upload stream the check runs on each message.
	svc + "UploadCandidateFile": uploadPart,
	svc + "ListCandidateFiles":  required("candidate_id", (*outreachv1.ListCandidateFilesRequest).GetCandidateId),
	svc + "GetCandidateFile": both(required("candidate_id", (*outreachv1.GetCandidateFileRequest).GetCandidateId),
		required("file_id", (*outreachv1.GetCandidateFileRequest).GetFileId)),
	svc + "DownloadCandidateFile": both(required("candidate_id", (*outreachv1.DownloadCandidateFileRequest).GetCandidateId),
		required("file_id", (*outreachv1.DownloadCandidateFileRequest).GetFileId)),
	svc + "DeleteCandidateFile": both(required("candidate_id", (*outreachv1.DeleteCandidateFileRequest).GetCandidateId),
		required("file_id", (*outreachv1.DeleteCandidateFileRequest).GetFileId)),
	svc + "CreateFlow":     present("flow", func(r *outreachv1.CreateFlowRequest) bool { return r.GetFlow() != nil }),
	svc + "GetFlow":        required("flow_id", (*outreachv1.GetFlowRequest).GetFlowId),
	svc + "GetFlowVersion": required("flow_id", (*outreachv1.GetFlowVersionRequest).GetFlowId),
	svc + "UpdateFlow": both(
		required("flow.id", func(r *outreachv1.UpdateFlowRequest) string { return r.GetFlow().GetId() }),
		present("update_mask", func(r *outreachv1.UpdateFlowRequest) bool { return len(r.GetUpdateMask().GetPaths()) > 0 })),
	svc + "ActivateFlow": required("flow_id", (*outreachv1.ActivateFlowRequest).GetFlowId),
	svc + "PauseFlow":    required("flow_id", (*outreachv1.PauseFlowRequest).GetFlowId),
	svc + "ResumeFlow":   required("flow_id", (*outreachv1.ResumeFlowRequest).GetFlowId),
	svc + "CompleteFlow": required("flow_id", (*outreachv1.CompleteFlowRequest).GetFlowId),
	svc + "ArchiveFlow":  required("flow_id", (*outreachv1.ArchiveFlowRequest).GetFlowId),
	svc + "PreviewFlowStep": both(
		required("flow_id", (*outreachv1.PreviewFlowStepRequest).GetFlowId),
		required("candidate_id", (*outreachv1.PreviewFlowStepRequest).GetCandidateId)),
	svc + "EnrollCandidates":        required("flow_id", (*outreachv1.EnrollCandidatesRequest).GetFlowId),
	svc + "ListEnrollments":         required("flow_id", (*outreachv1.ListEnrollmentsRequest).GetFlowId),
	svc + "GetEnrollment":           required("enrollment_id", (*outreachv1.GetEnrollmentRequest).GetEnrollmentId),
	svc + "RemoveEnrollment":        required("enrollment_id", (*outreachv1.RemoveEnrollmentRequest).GetEnrollmentId),
	svc + "PauseEnrollment":         required("enrollment_id", (*outreachv1.PauseEnrollmentRequest).GetEnrollmentId),
	svc + "ResumeEnrollment":        required("enrollment_id", (*outreachv1.ResumeEnrollmentRequest).GetEnrollmentId),
	svc + "GetFlowStats":            required("flow_id", (*outreachv1.GetFlowStatsRequest).GetFlowId),
	svc + "GrantSendingDelegation":  required("grantee_user_id", (*outreachv1.GrantSendingDelegationRequest).GetGranteeUserId),
	svc + "RevokeSendingDelegation": required("grantee_user_id", (*outreachv1.RevokeSendingDelegationRequest).GetGranteeUserId),

	svc + "SendCandidateEmail":  required("candidate_id", (*outreachv1.SendCandidateEmailRequest).GetCandidateId),
	svc + "ListCandidateEmails": required("candidate_id", (*outreachv1.ListCandidateEmailsRequest).GetCandidateId),
	svc + "CancelCandidateEmail": both(
		required("candidate_id", (*outreachv1.CancelCandidateEmailRequest).GetCandidateId),
		required("email_id", (*outreachv1.CancelCandidateEmailRequest).GetEmailId)),
}
