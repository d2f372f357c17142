package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/schedule"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Flows keeps the organization's flows and enrollments.
type Flows interface {
	Create(ctx context.Context, caller authz.Principal, in flows.Input) (store.Flow, error)
	Get(ctx context.Context, orgID, id string) (store.Flow, error)
	Version(ctx context.Context, orgID, id string, version int) (store.Flow, error)
	List(ctx context.Context, orgID, status string, pageSize int, pageToken string) ([]store.Flow, string, error)
	Update(ctx context.Context, caller authz.Principal, id string, in flows.Input, paths []string) (store.Flow, error)
	Activate(ctx context.Context, caller authz.Principal, id string) (store.Flow, error)
	Pause(ctx context.Context, caller authz.Principal, id string) (store.Flow, error)
	Resume(ctx context.Context, caller authz.Principal, id string) (store.Flow, error)
	Complete(ctx context.Context, caller authz.Principal, id string, confirm bool) (store.Flow, error)
	Archive(ctx context.Context, caller authz.Principal, id string) (store.Flow, error)
	Preview(ctx context.Context, orgID, flowID string, step, version int, candidateID string) (flows.Message, error)
	Enroll(ctx context.Context, caller authz.Principal, flowID string, candidateIDs []string) ([]flows.EnrollResult, error)
	GetEnrollment(ctx context.Context, orgID, id string) (store.Enrollment, error)
	ListEnrollments(ctx context.Context, orgID, flowID string, pageSize int, pageToken string) ([]store.Enrollment, string, error)
	Remove(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error)
	PauseEnrollment(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error)
	ResumeEnrollment(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error)
	Stats(ctx context.Context, orgID, flowID string) (flows.FlowStats, error)
	Grant(ctx context.Context, caller authz.Principal, grantee string) (store.Delegation, error)
	Revoke(ctx context.Context, caller authz.Principal, grantee string) error
	Delegations(ctx context.Context, caller authz.Principal, pageSize int, pageToken string) ([]store.Delegation, string, error)
}

var flowStatusToProto = map[string]outreachv1.FlowStatus{
	store.FlowDraft: outreachv1.FlowStatus_FLOW_STATUS_DRAFT, store.FlowActive: outreachv1.FlowStatus_FLOW_STATUS_ACTIVE,
	store.FlowPaused: outreachv1.FlowStatus_FLOW_STATUS_PAUSED, store.FlowCompleted: outreachv1.FlowStatus_FLOW_STATUS_COMPLETED,
	store.FlowArchived: outreachv1.FlowStatus_FLOW_STATUS_ARCHIVED,
}

var delayUnitToProto = map[string]outreachv1.DelayUnit{
	"hours": outreachv1.DelayUnit_DELAY_UNIT_HOURS, "days": outreachv1.DelayUnit_DELAY_UNIT_DAYS,
	"business_days": outreachv1.DelayUnit_DELAY_UNIT_BUSINESS_DAYS,
}

var enrollmentStatusToProto = map[string]outreachv1.EnrollmentStatus{
	store.EnrollmentActive: outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_ACTIVE, store.EnrollmentPaused: outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_PAUSED,
	store.EnrollmentStopped: outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_STOPPED,
}

var stopReasonToProto = map[string]outreachv1.StopReason{
	store.StopReplied: outreachv1.StopReason_STOP_REASON_REPLIED, store.StopBounced: outreachv1.StopReason_STOP_REASON_BOUNCED,
	store.StopFinished: outreachv1.StopReason_STOP_REASON_FINISHED, store.StopRemoved: outreachv1.StopReason_STOP_REASON_REMOVED,
	store.StopFlowCompleted: outreachv1.StopReason_STOP_REASON_FLOW_COMPLETED, store.StopStageFinal: outreachv1.StopReason_STOP_REASON_STAGE_FINAL,
	store.StopUndeliverable: outreachv1.StopReason_STOP_REASON_UNDELIVERABLE,
	store.StopMerged:        outreachv1.StopReason_STOP_REASON_MERGED,
}

var enrollOutcomeToProto = map[flows.Outcome]outreachv1.EnrollOutcome{
	flows.Enrolled: outreachv1.EnrollOutcome_ENROLL_OUTCOME_ENROLLED, flows.AlreadyEnrolled: outreachv1.EnrollOutcome_ENROLL_OUTCOME_ALREADY_ENROLLED,
	flows.InAnotherFlow: outreachv1.EnrollOutcome_ENROLL_OUTCOME_IN_ANOTHER_FLOW, flows.NoEmail: outreachv1.EnrollOutcome_ENROLL_OUTCOME_NO_EMAIL,
	flows.UndeliverableAddress: outreachv1.EnrollOutcome_ENROLL_OUTCOME_UNDELIVERABLE, flows.CandidateNotFound: outreachv1.EnrollOutcome_ENROLL_OUTCOME_NOT_FOUND,
}

func flowProto(f store.Flow) *outreachv1.Flow {
	v := f.Current
	out := &outreachv1.Flow{
		Id: f.ID, Name: f.Name, OwnerUserId: f.OwnerUserID, Status: flowStatusToProto[f.Status], Version: int32(v.Version),
		Sender:   &outreachv1.FlowSender{MailboxConnectionId: v.MailboxConnectionID, UserId: v.SenderUserID, DisplayName: v.SenderName, Email: v.SenderEmail},
		TimeZone: v.TimeZone, Holidays: v.Holidays, JobId: v.JobID,
		Window:     &outreachv1.SendingWindow{StartTime: schedule.FormatClock(v.WindowStart), EndTime: schedule.FormatClock(v.WindowEnd)},
		CreateTime: timestamppb.New(f.CreatedAt), UpdateTime: timestamppb.New(f.UpdatedAt),
	}
	for _, d := range v.WindowDays {
		out.Window.Days = append(out.Window.Days, outreachv1.Weekday(d))
	}
	for _, s := range v.Steps {
		out.Steps = append(out.Steps, &outreachv1.FlowStep{DelayUnit: delayUnitToProto[s.DelayUnit], Delay: int32(s.Delay),
			Subject: s.Subject, Body: s.Body, NewThread: s.NewThread})
	}
	return out
}

func flowInput(f *outreachv1.Flow) flows.Input {
	in := flows.Input{
		Name: f.GetName(), TimeZone: f.GetTimeZone(), Holidays: f.GetHolidays(), JobID: f.GetJobId(),
		Sender: store.FlowVersion{MailboxConnectionID: f.GetSender().GetMailboxConnectionId(), SenderUserID: f.GetSender().GetUserId(),
			SenderName: f.GetSender().GetDisplayName(), SenderEmail: f.GetSender().GetEmail()},
	}
	if w := f.GetWindow(); w != nil {
		in.Window = &flows.WindowInput{Start: w.GetStartTime(), End: w.GetEndTime()}
		for _, d := range w.GetDays() {
			in.Window.Days = append(in.Window.Days, int(d))
		}
	}
	for _, s := range f.GetSteps() {
		unit := ""
		for k, v := range delayUnitToProto {
			if v == s.GetDelayUnit() {
				unit = k
			}
		}
		in.Steps = append(in.Steps, store.FlowStep{DelayUnit: unit, Delay: int(s.GetDelay()), Subject: s.GetSubject(), Body: s.GetBody(), NewThread: s.GetNewThread()})
	}
	return in
}

func flowStatusFromProto(s outreachv1.FlowStatus) string {
	for k, v := range flowStatusToProto {
		if v == s {
			return k
		}
	}
	return ""
}

func enrollmentProto(e store.Enrollment) *outreachv1.Enrollment {
	return &outreachv1.Enrollment{
		Id: e.ID, FlowId: e.FlowID, CandidateId: e.CandidateID, FlowVersion: int32(e.FlowVersion), Status: enrollmentStatusToProto[e.Status],
		StepIndex: int32(e.NextStep), StepsSent: int32(e.StepsSent), NextSendTime: ts(e.NextSendAt), StopReason: stopReasonToProto[e.StopReason],
		ToAddress: e.ToAddress, CreateTime: timestamppb.New(e.CreatedAt), UpdateTime: timestamppb.New(e.UpdatedAt), StopTime: ts(e.StoppedAt),
		LastSentTime: ts(e.LastSentAt),
	}
}

// CreateFlow implements the RPC.
func (s *Server) CreateFlow(ctx context.Context, req *outreachv1.CreateFlowRequest) (*outreachv1.CreateFlowResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Flows.Create(ctx, p, flowInput(req.GetFlow()))
	if err != nil {
		return nil, err
	}
	return &outreachv1.CreateFlowResponse{Flow: flowProto(f)}, nil
}

// GetFlow implements the RPC.
func (s *Server) GetFlow(ctx context.Context, req *outreachv1.GetFlowRequest) (*outreachv1.GetFlowResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Flows.Get(ctx, orgID, req.GetFlowId())
	if err != nil {
		return nil, err
	}
	return &outreachv1.GetFlowResponse{Flow: flowProto(f)}, nil
}

// GetFlowVersion implements the RPC.
func (s *Server) GetFlowVersion(ctx context.Context, req *outreachv1.GetFlowVersionRequest) (*outreachv1.GetFlowVersionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Flows.Version(ctx, orgID, req.GetFlowId(), int(req.GetVersion()))
	if err != nil {
		return nil, err
	}
	return &outreachv1.GetFlowVersionResponse{Flow: flowProto(f)}, nil
}

// ListFlows implements the RPC.
func (s *Server) ListFlows(ctx context.Context, req *outreachv1.ListFlowsRequest) (*outreachv1.ListFlowsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	fs, next, err := s.d.Flows.List(ctx, orgID, flowStatusFromProto(req.GetStatus()), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListFlowsResponse{NextPageToken: next}
	for _, f := range fs {
		out.Flows = append(out.Flows, flowProto(f))
	}
	return out, nil
}

// UpdateFlow implements the RPC.
func (s *Server) UpdateFlow(ctx context.Context, req *outreachv1.UpdateFlowRequest) (*outreachv1.UpdateFlowResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.d.Flows.Update(ctx, p, req.GetFlow().GetId(), flowInput(req.GetFlow()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &outreachv1.UpdateFlowResponse{Flow: flowProto(f)}, nil
}

type flowChange func(ctx context.Context, caller authz.Principal, id string) (store.Flow, error)

func (s *Server) changeFlow(ctx context.Context, id string, change flowChange) (*outreachv1.Flow, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := change(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return flowProto(f), nil
}

// ActivateFlow implements the RPC.
func (s *Server) ActivateFlow(ctx context.Context, req *outreachv1.ActivateFlowRequest) (*outreachv1.ActivateFlowResponse, error) {
	f, err := s.changeFlow(ctx, req.GetFlowId(), s.d.Flows.Activate)
	if err != nil {
		return nil, err
	}
	return &outreachv1.ActivateFlowResponse{Flow: f}, nil
}

// PauseFlow implements the RPC.
func (s *Server) PauseFlow(ctx context.Context, req *outreachv1.PauseFlowRequest) (*outreachv1.PauseFlowResponse, error) {
	f, err := s.changeFlow(ctx, req.GetFlowId(), s.d.Flows.Pause)
	if err != nil {
		return nil, err
	}
	return &outreachv1.PauseFlowResponse{Flow: f}, nil
}

// ResumeFlow implements the RPC.
func (s *Server) ResumeFlow(ctx context.Context, req *outreachv1.ResumeFlowRequest) (*outreachv1.ResumeFlowResponse, error) {
	f, err := s.changeFlow(ctx, req.GetFlowId(), s.d.Flows.Resume)
	if err != nil {
		return nil, err
	}
	return &outreachv1.ResumeFlowResponse{Flow: f}, nil
}

// CompleteFlow implements the RPC.
func (s *Server) CompleteFlow(ctx context.Context, req *outreachv1.CompleteFlowRequest) (*outreachv1.CompleteFlowResponse, error) {
	f, err := s.changeFlow(ctx, req.GetFlowId(), func(ctx context.Context, p authz.Principal, id string) (store.Flow, error) {
		return s.d.Flows.Complete(ctx, p, id, req.GetConfirm())
	})
	if err != nil {
		return nil, err
	}
	return &outreachv1.CompleteFlowResponse{Flow: f}, nil
}

// ArchiveFlow implements the RPC.
func (s *Server) ArchiveFlow(ctx context.Context, req *outreachv1.ArchiveFlowRequest) (*outreachv1.ArchiveFlowResponse, error) {
	f, err := s.changeFlow(ctx, req.GetFlowId(), s.d.Flows.Archive)
	if err != nil {
		return nil, err
	}
	return &outreachv1.ArchiveFlowResponse{Flow: f}, nil
}

// PreviewFlowStep implements the RPC.
func (s *Server) PreviewFlowStep(ctx context.Context, req *outreachv1.PreviewFlowStepRequest) (*outreachv1.PreviewFlowStepResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.d.Flows.Preview(ctx, orgID, req.GetFlowId(), int(req.GetStepIndex()), int(req.GetVersion()), req.GetCandidateId())
	if err != nil {
		return nil, err
	}
	return &outreachv1.PreviewFlowStepResponse{Subject: m.Subject, HtmlBody: m.HTMLBody}, nil
}

// EnrollCandidates implements the RPC.
func (s *Server) EnrollCandidates(ctx context.Context, req *outreachv1.EnrollCandidatesRequest) (*outreachv1.EnrollCandidatesResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.d.Flows.Enroll(ctx, p, req.GetFlowId(), req.GetCandidateIds())
	if err != nil {
		return nil, err
	}
	out := &outreachv1.EnrollCandidatesResponse{}
	for i, r := range rs {
		out.Results = append(out.Results, &outreachv1.EnrollmentResult{Index: int32(i), CandidateId: r.CandidateID,
			Outcome: enrollOutcomeToProto[r.Outcome], EnrollmentId: r.EnrollmentID, OtherFlowId: r.OtherFlowID})
	}
	return out, nil
}

// ListEnrollments implements the RPC.
func (s *Server) ListEnrollments(ctx context.Context, req *outreachv1.ListEnrollmentsRequest) (*outreachv1.ListEnrollmentsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	es, next, err := s.d.Flows.ListEnrollments(ctx, orgID, req.GetFlowId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListEnrollmentsResponse{NextPageToken: next}
	for _, e := range es {
		out.Enrollments = append(out.Enrollments, enrollmentProto(e))
	}
	return out, nil
}

// GetEnrollment implements the RPC.
func (s *Server) GetEnrollment(ctx context.Context, req *outreachv1.GetEnrollmentRequest) (*outreachv1.GetEnrollmentResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.d.Flows.GetEnrollment(ctx, orgID, req.GetEnrollmentId())
	if err != nil {
		return nil, err
	}
	return &outreachv1.GetEnrollmentResponse{Enrollment: enrollmentProto(e)}, nil
}

type enrollmentChange func(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error)

func (s *Server) changeEnrollment(ctx context.Context, id string, change enrollmentChange) (*outreachv1.Enrollment, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := change(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return enrollmentProto(e), nil
}

// RemoveEnrollment implements the RPC.
func (s *Server) RemoveEnrollment(ctx context.Context, req *outreachv1.RemoveEnrollmentRequest) (*outreachv1.RemoveEnrollmentResponse, error) {
	e, err := s.changeEnrollment(ctx, req.GetEnrollmentId(), s.d.Flows.Remove)
	if err != nil {
		return nil, err
	}
	return &outreachv1.RemoveEnrollmentResponse{Enrollment: e}, nil
}

// PauseEnrollment implements the RPC.
func (s *Server) PauseEnrollment(ctx context.Context, req *outreachv1.PauseEnrollmentRequest) (*outreachv1.PauseEnrollmentResponse, error) {
	e, err := s.changeEnrollment(ctx, req.GetEnrollmentId(), s.d.Flows.PauseEnrollment)
	if err != nil {
		return nil, err
	}
	return &outreachv1.PauseEnrollmentResponse{Enrollment: e}, nil
}

// ResumeEnrollment implements the RPC.
func (s *Server) ResumeEnrollment(ctx context.Context, req *outreachv1.ResumeEnrollmentRequest) (*outreachv1.ResumeEnrollmentResponse, error) {
	e, err := s.changeEnrollment(ctx, req.GetEnrollmentId(), s.d.Flows.ResumeEnrollment)
	if err != nil {
		return nil, err
	}
	return &outreachv1.ResumeEnrollmentResponse{Enrollment: e}, nil
}

// GetFlowStats implements the RPC.
func (s *Server) GetFlowStats(ctx context.Context, req *outreachv1.GetFlowStatsRequest) (*outreachv1.GetFlowStatsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.d.Flows.Stats(ctx, orgID, req.GetFlowId())
	if err != nil {
		return nil, err
	}
	f := st.Flow
	out := &outreachv1.FlowStats{FlowId: req.GetFlowId(), Enrolled: f.Enrolled, Contacted: f.Contacted, Sent: f.Sent, Opened: f.Opened,
		Replied: f.Replied, Interested: f.Interested, Bounced: f.Bounced,
		OpenRate: flows.Rate(f.Opened, f.Contacted), ReplyRate: flows.Rate(f.Replied, f.Contacted),
		InterestedRate: flows.Rate(f.Interested, f.Contacted), BounceRate: flows.Rate(f.Bounced, f.Contacted)}
	for _, r := range st.Steps {
		out.Steps = append(out.Steps, &outreachv1.FlowStepStats{StepIndex: int32(r.StepIndex), Sent: r.Sent, Opened: r.Opened, Replied: r.Replied,
			Interested: r.Interested, Bounced: r.Bounced, OpenRate: flows.Rate(r.Opened, r.Sent), ReplyRate: flows.Rate(r.Replied, r.Sent),
			InterestedRate: flows.Rate(r.Interested, r.Sent), BounceRate: flows.Rate(r.Bounced, r.Sent)})
	}
	return &outreachv1.GetFlowStatsResponse{Stats: out}, nil
}

func delegationProto(d store.Delegation) *outreachv1.SendingDelegation {
	return &outreachv1.SendingDelegation{GrantorUserId: d.GrantorUserID, GranteeUserId: d.GranteeUserID, CreateTime: timestamppb.New(d.CreatedAt)}
}

// GrantSendingDelegation implements the RPC.
func (s *Server) GrantSendingDelegation(ctx context.Context, req *outreachv1.GrantSendingDelegationRequest) (*outreachv1.GrantSendingDelegationResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.d.Flows.Grant(ctx, p, req.GetGranteeUserId())
	if err != nil {
		return nil, err
	}
	return &outreachv1.GrantSendingDelegationResponse{Delegation: delegationProto(d)}, nil
}

// ListSendingDelegations implements the RPC.
func (s *Server) ListSendingDelegations(ctx context.Context, req *outreachv1.ListSendingDelegationsRequest) (*outreachv1.ListSendingDelegationsResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	ds, next, err := s.d.Flows.Delegations(ctx, p, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListSendingDelegationsResponse{NextPageToken: next}
	for _, d := range ds {
		out.Delegations = append(out.Delegations, delegationProto(d))
	}
	return out, nil
}

// RevokeSendingDelegation implements the RPC.
func (s *Server) RevokeSendingDelegation(ctx context.Context, req *outreachv1.RevokeSendingDelegationRequest) (*outreachv1.RevokeSendingDelegationResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Flows.Revoke(ctx, p, req.GetGranteeUserId()); err != nil {
		return nil, err
	}
	return &outreachv1.RevokeSendingDelegationResponse{}, nil
}
