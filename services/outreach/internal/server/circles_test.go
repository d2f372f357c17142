package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

func (w *world) openJob(ctx context.Context, title string) *outreachv1.Job {
	w.t.Helper()
	created, err := w.client.CreateJob(ctx, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: title, Status: outreachv1.JobStatus_JOB_STATUS_OPEN}})
	if err != nil {
		w.t.Fatal(err)
	}
	return created.GetJob()
}

func TestJobsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	admin, rec, member := w.as(org, authz.RoleAdmin), w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleMember)
	created, err := w.client.CreateJob(admin, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Staff engineer", Department: "Engineering",
		Team: "Platform", Location: "Paris", Status: outreachv1.JobStatus_JOB_STATUS_OPEN,
		ExternalSource: outreachv1.JobSource_JOB_SOURCE_ASHBY, ExternalId: "ash-1"}})
	if err != nil {
		t.Fatal(err)
	}
	j := created.GetJob()
	if j.GetId() == "" || j.GetExternalSource() != outreachv1.JobSource_JOB_SOURCE_ASHBY || j.GetCreateUserId() == "" || j.GetCreateTime() == nil {
		t.Fatalf("created %v", j)
	}
	draft, err := w.client.CreateJob(rec, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Secret role", Status: outreachv1.JobStatus_JOB_STATUS_DRAFT}})
	if err != nil {
		t.Fatal(err)
	}

	// Members read open jobs, never drafts, and manage nothing.
	if got, err := w.client.GetJob(member, &outreachv1.GetJobRequest{JobId: j.GetId()}); err != nil || got.GetJob().GetTitle() != "Staff engineer" {
		t.Fatalf("a member reads an open job: %v, %v", got, err)
	}
	_, err = w.client.GetJob(member, &outreachv1.GetJobRequest{JobId: draft.GetJob().GetId()})
	wantCode(t, err, codes.NotFound)
	list, err := w.client.ListJobs(member, &outreachv1.ListJobsRequest{})
	if err != nil || len(list.GetJobs()) != 1 || list.GetJobs()[0].GetId() != j.GetId() {
		t.Fatalf("a member's list: %v, %v", list, err)
	}
	_, err = w.client.ListJobs(member, &outreachv1.ListJobsRequest{Status: outreachv1.JobStatus_JOB_STATUS_DRAFT})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.CreateJob(member, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Mine", Status: outreachv1.JobStatus_JOB_STATUS_OPEN}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.UpdateJob(member, &outreachv1.UpdateJobRequest{Job: &outreachv1.Job{Id: j.GetId(), Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.CloseJob(member, &outreachv1.CloseJobRequest{JobId: j.GetId()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.CreateJob(w.as(org, authz.RoleHiringManager), &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Mine", Status: outreachv1.JobStatus_JOB_STATUS_OPEN}})
	wantCode(t, err, codes.PermissionDenied)

	// Recruiters see every status, a page at a time.
	page, err := w.client.ListJobs(rec, &outreachv1.ListJobsRequest{PageSize: 1})
	if err != nil || len(page.GetJobs()) != 1 || page.GetJobs()[0].GetId() != draft.GetJob().GetId() || page.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v, %v", page, err)
	}
	page, err = w.client.ListJobs(rec, &outreachv1.ListJobsRequest{PageSize: 1, PageToken: page.GetNextPageToken()})
	if err != nil || len(page.GetJobs()) != 1 || page.GetJobs()[0].GetId() != j.GetId() || page.GetNextPageToken() != "" {
		t.Fatalf("page 2: %v, %v", page, err)
	}
	updated, err := w.client.UpdateJob(rec, &outreachv1.UpdateJobRequest{Job: &outreachv1.Job{Id: j.GetId(), Location: "Remote", Title: "not in the mask"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"location"}}})
	if err != nil || updated.GetJob().GetLocation() != "Remote" || updated.GetJob().GetTitle() != "Staff engineer" {
		t.Fatalf("update: %v, %v", updated, err)
	}
	closed, err := w.client.CloseJob(rec, &outreachv1.CloseJobRequest{JobId: j.GetId()})
	if err != nil || closed.GetJob().GetStatus() != outreachv1.JobStatus_JOB_STATUS_CLOSED {
		t.Fatalf("close: %v, %v", closed, err)
	}
	open, err := w.client.ListJobs(member, &outreachv1.ListJobsRequest{Status: outreachv1.JobStatus_JOB_STATUS_OPEN})
	if err != nil || len(open.GetJobs()) != 0 {
		t.Fatalf("open jobs after the close: %v, %v", open, err)
	}
	_, err = w.client.CreateJob(rec, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Copy", Status: outreachv1.JobStatus_JOB_STATUS_OPEN,
		ExternalSource: outreachv1.JobSource_JOB_SOURCE_ASHBY, ExternalId: "ash-1"}})
	wantCode(t, err, codes.AlreadyExists)

	// Bad input names its field and stores nothing, on every write RPC.
	_, err = w.client.CreateJob(rec, &outreachv1.CreateJobRequest{})
	wantBadField(t, err, "job")
	_, err = w.client.CreateJob(rec, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "No status"}})
	wantBadField(t, err, "job.status")
	_, err = w.client.CreateJob(rec, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Half", Status: outreachv1.JobStatus_JOB_STATUS_OPEN, ExternalId: "x"}})
	wantBadField(t, err, "job.external_source")
	_, err = w.client.UpdateJob(rec, &outreachv1.UpdateJobRequest{Job: &outreachv1.Job{Id: j.GetId(), Title: " "}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantBadField(t, err, "job.title")
	_, err = w.client.UpdateJob(rec, &outreachv1.UpdateJobRequest{Job: &outreachv1.Job{Id: j.GetId()}})
	wantBadField(t, err, "update_mask")
	_, err = w.client.CloseJob(rec, &outreachv1.CloseJobRequest{})
	wantBadField(t, err, "job_id")
	_, err = w.client.ListJobs(rec, &outreachv1.ListJobsRequest{PageToken: "garbage"})
	wantBadField(t, err, "page_token")
	all, err := w.client.ListJobs(rec, &outreachv1.ListJobsRequest{})
	if err != nil || len(all.GetJobs()) != 2 || all.GetJobs()[1].GetTitle() != "Staff engineer" {
		t.Fatalf("bad input stored something: %v, %v", all, err)
	}

	// Another organization's job is NotFound on every RPC taking an id.
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	_, err = w.client.GetJob(other, &outreachv1.GetJobRequest{JobId: j.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.UpdateJob(other, &outreachv1.UpdateJobRequest{Job: &outreachv1.Job{Id: j.GetId(), Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.CloseJob(other, &outreachv1.CloseJobRequest{JobId: j.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetJob(rec, &outreachv1.GetJobRequest{JobId: "not-an-id"})
	wantCode(t, err, codes.NotFound)
}

func TestReferralsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	ann, annID := w.asUser(org, authz.RoleMember)
	bob, _ := w.asUser(org, authz.RoleMember)
	job := w.openJob(w.as(org, authz.RoleAdmin), "Staff engineer")
	in := &outreachv1.Referral{JobId: job.GetId(), Name: "Ada Lovelace", Email: "ada@example.com", LinkedinUrl: "https://www.linkedin.com/in/ada",
		Relationship: "worked together at Engines", Note: "Brilliant."}
	made, err := w.client.CreateReferral(ann, &outreachv1.CreateReferralRequest{Referral: in})
	if err != nil {
		t.Fatal(err)
	}
	r := made.GetReferral()
	if r.GetReferrerUserId() != annID || !r.GetCandidateCreated() || r.GetCandidateId() == "" || r.GetCreateTime() == nil {
		t.Fatalf("referral %v", r)
	}
	if evs := storetest.Published(t, w.pool, "referral.created"); len(evs) != 1 || evs[0].GetAggregateId() != r.GetId() {
		t.Fatalf("published %v", evs)
	}
	// The same again is refused with the first one's id.
	_, err = w.client.CreateReferral(ann, &outreachv1.CreateReferralRequest{Referral: in})
	st := wantCode(t, err, codes.AlreadyExists)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info.GetMetadata()["referral_id"] != r.GetId() || info.GetReason() != "referral_exists" {
		t.Fatalf("the refusal should name %s: %v", r.GetId(), st.Details())
	}
	// Bob refers the same person, typed differently: the same candidate.
	linked, err := w.client.CreateReferral(bob, &outreachv1.CreateReferralRequest{Referral: &outreachv1.Referral{JobId: job.GetId(), Name: "Ada",
		Email: " ADA@example.COM", Relationship: "a friend"}})
	if err != nil || linked.GetReferral().GetCandidateId() != r.GetCandidateId() || linked.GetReferral().GetCandidateCreated() {
		t.Fatalf("linked: %v, %v", linked, err)
	}

	// A member sees their own referrals; recruiters see all.
	mine, err := w.client.ListReferrals(ann, &outreachv1.ListReferralsRequest{})
	if err != nil || len(mine.GetReferrals()) != 1 || mine.GetReferrals()[0].GetId() != r.GetId() {
		t.Fatalf("ann's referrals: %v, %v", mine, err)
	}
	onCandidate, err := w.client.ListReferrals(bob, &outreachv1.ListReferralsRequest{CandidateId: r.GetCandidateId()})
	if err != nil || len(onCandidate.GetReferrals()) != 1 || onCandidate.GetReferrals()[0].GetId() != linked.GetReferral().GetId() {
		t.Fatalf("bob's view of the candidate: %v, %v", onCandidate, err)
	}
	_, err = w.client.ListReferrals(bob, &outreachv1.ListReferralsRequest{ReferrerUserId: annID})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.GetReferral(bob, &outreachv1.GetReferralRequest{ReferralId: r.GetId()})
	wantCode(t, err, codes.NotFound)
	for name, req := range map[string]*outreachv1.ListReferralsRequest{
		"by job": {JobId: job.GetId()}, "by candidate": {CandidateId: r.GetCandidateId()}, "all": {},
	} {
		got, err := w.client.ListReferrals(rec, req)
		if err != nil || len(got.GetReferrals()) != 2 {
			t.Errorf("a recruiter lists %s: %v, %v", name, got, err)
		}
	}
	if got, err := w.client.ListReferrals(rec, &outreachv1.ListReferralsRequest{ReferrerUserId: annID}); err != nil || len(got.GetReferrals()) != 1 {
		t.Fatalf("a recruiter lists ann's: %v, %v", got, err)
	}
	if got, err := w.client.GetReferral(rec, &outreachv1.GetReferralRequest{ReferralId: r.GetId()}); err != nil || got.GetReferral().GetNote() != "Brilliant." {
		t.Fatalf("a recruiter reads ann's: %v, %v", got, err)
	}
	tl, err := w.client.ListTimeline(ann, &outreachv1.ListTimelineRequest{CandidateId: r.GetCandidateId(),
		Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_REFERRAL_CREATED}})
	if err != nil || len(tl.GetEntries()) != 2 || tl.GetEntries()[0].GetReferral().GetReferralId() != r.GetId() || tl.GetEntries()[0].GetReferral().GetJobTitle() != "Staff engineer" {
		t.Fatalf("the referrals on the timeline: %v, %v", tl, err)
	}

	// A closed job, an unknown job, another organization's job.
	closed := w.openJob(rec, "Closed role")
	if _, err := w.client.CloseJob(rec, &outreachv1.CloseJobRequest{JobId: closed.GetId()}); err != nil {
		t.Fatal(err)
	}
	refer := func(ctx context.Context, jobID string) error {
		_, err := w.client.CreateReferral(ctx, &outreachv1.CreateReferralRequest{Referral: &outreachv1.Referral{JobId: jobID, Name: "Grace",
			Email: "grace@example.com", Relationship: "a friend"}})
		return err
	}
	if st := wantCode(t, refer(ann, closed.GetId()), codes.FailedPrecondition); st.Message() == "" {
		t.Fatal("the refusal should say why")
	}
	wantCode(t, refer(ann, uuid.NewString()), codes.NotFound)
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	wantCode(t, refer(other, job.GetId()), codes.NotFound)
	_, err = w.client.GetReferral(other, &outreachv1.GetReferralRequest{ReferralId: r.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.ListReferrals(other, &outreachv1.ListReferralsRequest{CandidateId: r.GetCandidateId()})
	wantCode(t, err, codes.NotFound)

	// Bad input names its field and stores nothing.
	_, err = w.client.CreateReferral(ann, &outreachv1.CreateReferralRequest{})
	wantBadField(t, err, "referral")
	_, err = w.client.CreateReferral(ann, &outreachv1.CreateReferralRequest{Referral: &outreachv1.Referral{JobId: job.GetId(), Name: "Grace", Email: "grace@", Relationship: "x"}})
	wantBadField(t, err, "referral.email")
	_, err = w.client.CreateReferral(ann, &outreachv1.CreateReferralRequest{Referral: &outreachv1.Referral{JobId: job.GetId(), Name: "Grace", Email: "grace@example.com"}})
	wantBadField(t, err, "referral.relationship")
	_, err = w.client.ListReferrals(rec, &outreachv1.ListReferralsRequest{PageSize: -1})
	wantBadField(t, err, "page_size")
	if got, err := w.client.ListReferrals(rec, &outreachv1.ListReferralsRequest{}); err != nil || len(got.GetReferrals()) != 2 {
		t.Fatalf("refused referrals stored something: %v, %v", got, err)
	}
	if found, err := w.client.SearchCandidates(rec, &outreachv1.SearchCandidatesRequest{Email: "grace@example.com"}); err != nil || len(found.GetCandidates()) != 0 {
		t.Fatalf("refused referrals made a candidate: %v, %v", found, err)
	}
	if evs := storetest.Published(t, w.pool, "referral.created"); len(evs) != 2 {
		t.Fatalf("published %d referral events, want 2", len(evs))
	}
}

func (w *world) message(org, candidateID, key string) *outreachv1.RecordConversationMessageRequest {
	return &outreachv1.RecordConversationMessageRequest{OrganizationId: org, CandidateId: candidateID, MailboxConnectionId: "conn-1",
		SenderUserId: "rec-1", ProviderConversationId: "graph-1", IdempotencyKey: key,
		Message: &outreachv1.ConversationMessage{Direction: outreachv1.MessageDirection_MESSAGE_DIRECTION_OUTBOUND, Kind: outreachv1.MessageKind_MESSAGE_KIND_SENT,
			From: "rec@contoso.example", To: []string{"ada@example.com"}, Subject: "Hello", BodyText: "Hi Ada",
			InternetMessageId: "<" + key + "@contoso.example>", MessageTime: timestamppb.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))}}
}

func TestConversationsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec, hm := w.as(org, authz.RoleRecruiter), w.as(org, authz.RoleHiringManager)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCandidate().GetId()
	svc := w.asService()
	first, err := w.client.RecordConversationMessage(svc, w.message(org, id, "m1"))
	if err != nil || !first.GetCreated() || first.GetConversation().GetMessageCount() != 1 || first.GetMessage().GetInternetMessageId() != "<m1@contoso.example>" {
		t.Fatalf("record: %v, %v", first, err)
	}
	again, err := w.client.RecordConversationMessage(svc, w.message(org, id, "m1"))
	if err != nil || again.GetCreated() || again.GetMessage().GetId() != first.GetMessage().GetId() {
		t.Fatalf("record again: %v, %v", again, err)
	}
	if evs := storetest.Published(t, w.pool, "conversation.logged"); len(evs) != 1 {
		t.Fatalf("recording twice published %d events", len(evs))
	}
	thread, err := w.client.GetConversation(hm, &outreachv1.GetConversationRequest{ConversationId: first.GetConversation().GetId()})
	if err != nil || len(thread.GetMessages()) != 1 || thread.GetMessages()[0].GetBodyText() != "Hi Ada" || thread.GetConversation().GetProviderConversationId() != "graph-1" {
		t.Fatalf("get: %v, %v", thread, err)
	}
	list, err := w.client.ListConversations(hm, &outreachv1.ListConversationsRequest{CandidateId: id})
	if err != nil || len(list.GetConversations()) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	tl, err := w.client.ListTimeline(rec, &outreachv1.ListTimelineRequest{CandidateId: id, Kinds: []outreachv1.TimelineKind{outreachv1.TimelineKind_TIMELINE_KIND_MESSAGE_SENT}})
	if err != nil || len(tl.GetEntries()) != 1 || tl.GetEntries()[0].GetMessage().GetKind() != outreachv1.MessageKind_MESSAGE_KIND_SENT {
		t.Fatalf("timeline: %v, %v", tl, err)
	}

	// People never call the internal RPC, whatever their role; members do
	// not read conversations.
	_, err = w.client.RecordConversationMessage(w.as(org, authz.RoleSuperAdmin), w.message(org, id, "m2"))
	wantCode(t, err, codes.PermissionDenied)
	member := w.as(org, authz.RoleMember)
	_, err = w.client.ListConversations(member, &outreachv1.ListConversationsRequest{CandidateId: id})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.client.GetConversation(member, &outreachv1.GetConversationRequest{ConversationId: first.GetConversation().GetId()})
	wantCode(t, err, codes.PermissionDenied)
	// A service calls nothing else.
	_, err = w.client.ListConversations(svc, &outreachv1.ListConversationsRequest{CandidateId: id})
	wantCode(t, err, codes.PermissionDenied)

	// Bad input names its field and stores nothing.
	_, err = w.client.RecordConversationMessage(svc, &outreachv1.RecordConversationMessageRequest{CandidateId: id, Message: &outreachv1.ConversationMessage{}})
	wantBadField(t, err, "organization_id")
	_, err = w.client.RecordConversationMessage(svc, &outreachv1.RecordConversationMessageRequest{OrganizationId: org, CandidateId: id})
	wantBadField(t, err, "message")
	bad := w.message(org, id, "m3")
	bad.Message.Kind = outreachv1.MessageKind_MESSAGE_KIND_BOUNCE
	_, err = w.client.RecordConversationMessage(svc, bad)
	wantBadField(t, err, "message.kind")
	bad = w.message(org, id, "m3")
	bad.Message.MessageTime = nil
	_, err = w.client.RecordConversationMessage(svc, bad)
	wantBadField(t, err, "message.message_time")
	_, err = w.client.GetConversation(hm, &outreachv1.GetConversationRequest{ConversationId: first.GetConversation().GetId(), PageToken: "x"})
	wantBadField(t, err, "page_token")
	if thread, err := w.client.GetConversation(hm, &outreachv1.GetConversationRequest{ConversationId: first.GetConversation().GetId()}); err != nil || len(thread.GetMessages()) != 1 {
		t.Fatalf("bad input stored something: %v, %v", thread, err)
	}

	// Another organization's candidate and conversation are NotFound.
	other := uuid.NewString()
	_, err = w.client.RecordConversationMessage(svc, w.message(other, id, "m4"))
	wantCode(t, err, codes.NotFound)
	theirs := w.as(other, authz.RoleAdmin)
	_, err = w.client.ListConversations(theirs, &outreachv1.ListConversationsRequest{CandidateId: id})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetConversation(theirs, &outreachv1.GetConversationRequest{ConversationId: first.GetConversation().GetId()})
	wantCode(t, err, codes.NotFound)
	wrongThread := w.message(org, id, "m5")
	wrongThread.ConversationId = uuid.NewString()
	_, err = w.client.RecordConversationMessage(svc, wrongThread)
	wantCode(t, err, codes.NotFound)
}

// Notes publish their public changes over the real outbox; private ones
// stay in Tandem.
func TestNoteEventsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCandidate().GetId()
	if _, err := w.client.CreateNote(rec, &outreachv1.CreateNoteRequest{CandidateId: id,
		Note: &outreachv1.Note{Body: "salary hopes", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE}}); err != nil {
		t.Fatal(err)
	}
	public, err := w.client.CreateNote(rec, &outreachv1.CreateNoteRequest{CandidateId: id,
		Note: &outreachv1.Note{Body: "great call", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.UpdateNote(rec, &outreachv1.UpdateNoteRequest{Note: &outreachv1.Note{Id: public.GetNote().GetId(), Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visibility"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.DeleteNote(rec, &outreachv1.DeleteNoteRequest{NoteId: public.GetNote().GetId()}); err != nil {
		t.Fatal(err)
	}
	evs := storetest.Published(t, w.pool, "")
	var types []string
	for _, ev := range evs {
		types = append(types, ev.GetType())
	}
	if len(evs) != 2 || types[0] != "note.created" || types[1] != "note.updated" {
		t.Fatalf("published %v; want the public note's creation and its retraction only", types)
	}
	retract := &outreachv1.NoteChanged{}
	if err := evs[1].GetPayload().UnmarshalTo(retract); err != nil || !retract.GetPrivate() || retract.GetBody() != "" || retract.GetNoteId() != public.GetNote().GetId() {
		t.Fatalf("retraction %v, %v", retract, err)
	}
}
