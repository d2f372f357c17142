package server_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// refusingMailbox is never reached by these tests: nothing they schedule
// falls due.
type refusingMailbox struct{}

func (refusingMailbox) Submit(context.Context, flows.Message) (flows.Submitted, error) {
	return flows.Submitted{}, flows.ErrRefused
}

func (refusingMailbox) Cancel(context.Context, string, string) error { return nil }

func newFlows(t *testing.T, pool *pgxpool.Pool, st *store.Store) *flows.Flows {
	t.Helper()
	if err := jobs.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	f := flows.New(flows.Options{Store: st, Publisher: noSubscribers{}, Mailbox: refusingMailbox{}})
	f.SetJobs(jc)
	return f
}

// asUser calls as a given user, so that two calls are the same person.
func (w *world) asUserID(org, user string, role authz.Role) context.Context {
	token, _ := authz.NewAPIToken()
	w.tokens[token] = authz.Principal{Kind: authz.KindAPIToken, OrgID: org, UserID: user, TokenID: uuid.NewString(), Role: role}
	return metadata.AppendToOutgoingContext(w.t.Context(), "authorization", "Bearer "+token)
}

func flowMessage() *outreachv1.Flow {
	return &outreachv1.Flow{
		Name:     "Platform engineers",
		Sender:   &outreachv1.FlowSender{MailboxConnectionId: "conn-1", DisplayName: "Rita", Email: "rita@acme.test"},
		TimeZone: "America/New_York",
		Window: &outreachv1.SendingWindow{Days: []outreachv1.Weekday{outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY},
			StartTime: "09:00", EndTime: "17:30"},
		Holidays: []string{"2026-12-25"},
		Steps: []*outreachv1.FlowStep{
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Hi {{ candidate.first_name }}", Body: "<p>Hello</p>"},
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_BUSINESS_DAYS, Delay: 3, Subject: "Again", Body: "<p>{{ sender.first_name }}</p>"},
		},
	}
}

func TestFlowsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org, owner := uuid.NewString(), uuid.NewString()
	rec := w.asUserID(org, owner, authz.RoleRecruiter)
	created, err := w.client.CreateFlow(rec, &outreachv1.CreateFlowRequest{Flow: flowMessage()})
	if err != nil {
		t.Fatal(err)
	}
	f := created.GetFlow()
	if f.GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_DRAFT || f.GetVersion() != 1 || f.GetOwnerUserId() != owner ||
		f.GetWindow().GetEndTime() != "17:30" || len(f.GetWindow().GetDays()) != 2 || f.GetSteps()[1].GetDelay() != 3 ||
		!f.GetSteps()[0].GetNewThread() || f.GetSender().GetUserId() != owner {
		t.Fatalf("created %v", f)
	}

	// A Member cannot create, activate or edit; another Recruiter cannot
	// activate or edit someone else's flow.
	member := w.as(org, authz.RoleMember)
	_, err = w.client.ActivateFlow(member, &outreachv1.ActivateFlowRequest{FlowId: f.GetId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.UpdateFlow(member, &outreachv1.UpdateFlowRequest{Flow: &outreachv1.Flow{Id: f.GetId(), Name: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.CreateFlow(member, &outreachv1.CreateFlowRequest{Flow: flowMessage()})
	wantCode(t, err, codes.PermissionDenied)
	mate := w.as(org, authz.RoleRecruiter)
	_, err = w.client.ActivateFlow(mate, &outreachv1.ActivateFlowRequest{FlowId: f.GetId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.UpdateFlow(mate, &outreachv1.UpdateFlowRequest{Flow: &outreachv1.Flow{Id: f.GetId(), Name: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
	wantCode(t, err, codes.PermissionDenied)
	if _, err := w.client.GetFlow(member, &outreachv1.GetFlowRequest{FlowId: f.GetId()}); err != nil {
		t.Fatalf("a member reads flows: %v", err)
	}

	// Bad input names its field.
	bad := flowMessage()
	bad.Steps[1].Body = "Hi\n{{ candidate.nickname }}"
	_, err = w.client.CreateFlow(rec, &outreachv1.CreateFlowRequest{Flow: bad})
	wantBadField(t, err, "flow.steps[1].body")
	bad = flowMessage()
	bad.TimeZone = "Europe/Atlantis"
	_, err = w.client.CreateFlow(rec, &outreachv1.CreateFlowRequest{Flow: bad})
	wantBadField(t, err, "flow.time_zone")
	_, err = w.client.CreateFlow(rec, &outreachv1.CreateFlowRequest{})
	wantBadField(t, err, "flow")
	_, err = w.client.CompleteFlow(rec, &outreachv1.CompleteFlowRequest{FlowId: f.GetId()})
	wantBadField(t, err, "confirm")
	_, err = w.client.EnrollCandidates(rec, &outreachv1.EnrollCandidatesRequest{FlowId: f.GetId()})
	wantBadField(t, err, "candidate_ids")

	// Enrolling: a candidate of another organization is reported not
	// found; another organization's flow is NotFound.
	cand, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	otherOrg := w.as(uuid.NewString(), authz.RoleAdmin)
	foreign, err := w.client.CreateCandidate(otherOrg, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Eve", Emails: []string{"eve@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := w.client.EnrollCandidates(rec, &outreachv1.EnrollCandidatesRequest{FlowId: f.GetId(),
		CandidateIds: []string{cand.GetCandidate().GetId(), foreign.GetCandidate().GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	rs := enr.GetResults()
	if rs[0].GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_ENROLLED || rs[1].GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_NOT_FOUND || rs[1].GetIndex() != 1 {
		t.Fatalf("results %v", rs)
	}
	_, err = w.client.EnrollCandidates(otherOrg, &outreachv1.EnrollCandidatesRequest{FlowId: f.GetId(), CandidateIds: []string{foreign.GetCandidate().GetId()}})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetEnrollment(otherOrg, &outreachv1.GetEnrollmentRequest{EnrollmentId: rs[0].GetEnrollmentId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetFlowStats(otherOrg, &outreachv1.GetFlowStatsRequest{FlowId: f.GetId()})
	wantCode(t, err, codes.NotFound)

	// The lifecycle through the RPCs: versions and what each enrollment is on.
	if _, err := w.client.ActivateFlow(rec, &outreachv1.ActivateFlowRequest{FlowId: f.GetId()}); err != nil {
		t.Fatal(err)
	}
	edit := flowMessage()
	edit.Id = f.GetId()
	edit.Steps[1].Subject = "Still interested?"
	upd, err := w.client.UpdateFlow(rec, &outreachv1.UpdateFlowRequest{Flow: edit, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"steps"}}})
	if err != nil || upd.GetFlow().GetVersion() != 2 || upd.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_ACTIVE {
		t.Fatalf("update %v %v", upd, err)
	}
	got, err := w.client.GetEnrollment(member, &outreachv1.GetEnrollmentRequest{EnrollmentId: rs[0].GetEnrollmentId()})
	if err != nil || got.GetEnrollment().GetFlowVersion() != 1 || got.GetEnrollment().GetNextSendTime() == nil ||
		got.GetEnrollment().GetStatus() != outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_ACTIVE {
		t.Fatalf("enrollment %v %v", got, err)
	}
	v1, err := w.client.GetFlowVersion(member, &outreachv1.GetFlowVersionRequest{FlowId: f.GetId(), Version: 1})
	if err != nil || v1.GetFlow().GetSteps()[1].GetSubject() != "Again" {
		t.Fatalf("version 1 %v %v", v1, err)
	}
	prev, err := w.client.PreviewFlowStep(member, &outreachv1.PreviewFlowStepRequest{FlowId: f.GetId(), StepIndex: 0, CandidateId: cand.GetCandidate().GetId()})
	if err != nil || prev.GetSubject() != "Hi Ada" {
		t.Fatalf("preview %v %v", prev, err)
	}
	list, err := w.client.ListEnrollments(member, &outreachv1.ListEnrollmentsRequest{FlowId: f.GetId(), PageSize: 1})
	if err != nil || len(list.GetEnrollments()) != 1 || list.GetNextPageToken() != "" {
		t.Fatalf("enrollments %v %v", list, err)
	}
	stats, err := w.client.GetFlowStats(member, &outreachv1.GetFlowStatsRequest{FlowId: f.GetId()})
	if err != nil || stats.GetStats().GetEnrolled() != 1 || stats.GetStats().GetReplyRate() != 0 {
		t.Fatalf("stats %v %v", stats, err)
	}
	flowsList, err := w.client.ListFlows(member, &outreachv1.ListFlowsRequest{})
	if err != nil || len(flowsList.GetFlows()) != 1 {
		t.Fatalf("flows %v %v", flowsList, err)
	}
	removed, err := w.client.RemoveEnrollment(rec, &outreachv1.RemoveEnrollmentRequest{EnrollmentId: rs[0].GetEnrollmentId()})
	if err != nil || removed.GetEnrollment().GetStopReason() != outreachv1.StopReason_STOP_REASON_REMOVED {
		t.Fatalf("remove %v %v", removed, err)
	}
	// Its last enrollment gone, the flow is complete.
	done, err := w.client.GetFlow(member, &outreachv1.GetFlowRequest{FlowId: f.GetId()})
	if err != nil || done.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_COMPLETED {
		t.Fatalf("flow %v %v", done, err)
	}
}

func TestSendingDelegationsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org, rita, sam := uuid.NewString(), uuid.NewString(), uuid.NewString()
	asRita, asSam := w.asUserID(org, rita, authz.RoleRecruiter), w.asUserID(org, sam, authz.RoleRecruiter)
	msg := flowMessage()
	msg.Sender.UserId = rita
	_, err := w.client.CreateFlow(asSam, &outreachv1.CreateFlowRequest{Flow: msg})
	wantBadField(t, err, "flow.sender.user_id")
	if _, err := w.client.GrantSendingDelegation(asRita, &outreachv1.GrantSendingDelegationRequest{GranteeUserId: sam}); err != nil {
		t.Fatal(err)
	}
	created, err := w.client.CreateFlow(asSam, &outreachv1.CreateFlowRequest{Flow: msg})
	if err != nil || created.GetFlow().GetSender().GetUserId() != rita || created.GetFlow().GetOwnerUserId() != sam {
		t.Fatalf("delegated flow %v %v", created, err)
	}
	list, err := w.client.ListSendingDelegations(asSam, &outreachv1.ListSendingDelegationsRequest{})
	if err != nil || len(list.GetDelegations()) != 1 || list.GetDelegations()[0].GetGrantorUserId() != rita {
		t.Fatalf("delegations %v %v", list, err)
	}
	if _, err := w.client.RevokeSendingDelegation(asRita, &outreachv1.RevokeSendingDelegationRequest{GranteeUserId: sam}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.RevokeSendingDelegation(asRita, &outreachv1.RevokeSendingDelegationRequest{GranteeUserId: sam})
	wantCode(t, err, codes.NotFound)
}
