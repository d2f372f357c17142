package server_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsprofiles"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func TestCandidateForSyncAndATSLinks(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.as(org, authz.RoleRecruiter)
	created, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{
		Name: "Sam Rivera", Emails: []string{"sam@example.org"}, Phone: "+1 555 0100", Title: "Engineer", Company: "Initech"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCandidate().GetId()
	for _, n := range []struct {
		body string
		vis  outreachv1.NoteVisibility
	}{{"first public", outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}, {"secret", outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE},
		{"second public", outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}} {
		if _, err := w.client.CreateNote(rec, &outreachv1.CreateNoteRequest{CandidateId: id, Note: &outreachv1.Note{Body: n.body, Visibility: n.vis}}); err != nil {
			t.Fatal(err)
		}
	}
	job, err := w.client.CreateJob(rec, &outreachv1.CreateJobRequest{Job: &outreachv1.Job{Title: "Go Engineer", Status: outreachv1.JobStatus_JOB_STATUS_OPEN,
		ExternalSource: outreachv1.JobSource_JOB_SOURCE_LEVER, ExternalId: "posting-1"}})
	if err != nil {
		t.Fatal(err)
	}

	// Only services may read it.
	_, err = w.client.GetCandidateForSync(rec, &outreachv1.GetCandidateForSyncRequest{OrganizationId: org, CandidateId: id})
	wantCode(t, err, codes.PermissionDenied)
	got, err := w.client.GetCandidateForSync(w.asService(), &outreachv1.GetCandidateForSyncRequest{OrganizationId: org, CandidateId: id, JobId: job.GetJob().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCandidate().GetName() != "Sam Rivera" || got.GetJob().GetExternalId() != "posting-1" {
		t.Fatalf("for sync: %v", got)
	}
	if ns := got.GetPublicNotes(); len(ns) != 2 || ns[0].GetBody() != "first public" || ns[1].GetBody() != "second public" {
		t.Fatalf("public notes, oldest first, without the private one: %v", ns)
	}
	// Another organization's candidate or job is not found.
	_, err = w.client.GetCandidateForSync(w.asService(), &outreachv1.GetCandidateForSyncRequest{OrganizationId: uuid.NewString(), CandidateId: id})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetCandidateForSync(w.asService(), &outreachv1.GetCandidateForSyncRequest{OrganizationId: org, CandidateId: id, JobId: uuid.NewString()})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.GetCandidateForSync(w.asService(), &outreachv1.GetCandidateForSyncRequest{OrganizationId: org})
	wantBadField(t, err, "candidate_id")

	// ats.linked shows on the candidate, once however often it comes.
	profiles := atsprofiles.New(store.New(w.pool))
	payload, err := anypb.New(&atsbridgev1.AtsLinked{ConnectionId: uuid.NewString(), Provider: "lever", CandidateId: id, JobId: job.GetJob().GetId(),
		RemoteCandidateId: "contact-1", RemoteOpportunityId: "opp-1", Url: "https://hire.lever.co/candidates/opp-1", Created: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: atsprofiles.EventLinked, OrganizationId: org, AggregateId: id, Version: 1,
		OccurredAt: timestamppb.New(time.Now()), Payload: payload}
	for range 2 {
		if err := pgx.BeginFunc(t.Context(), w.pool, func(tx pgx.Tx) error { return profiles.ApplyLinked(t.Context(), tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	c, err := w.client.GetCandidate(rec, &outreachv1.GetCandidateRequest{CandidateId: id})
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.GetCandidate().GetAtsProfiles(); len(ps) != 1 || ps[0].GetRemoteOpportunityId() != "opp-1" || ps[0].GetUrl() == "" || ps[0].GetJobId() != job.GetJob().GetId() {
		t.Fatalf("ATS profiles: %v", ps)
	}
	bad, _ := anypb.New(&atsbridgev1.AtsLinked{Provider: "workday", CandidateId: id, RemoteOpportunityId: "x"})
	if err := pgx.BeginFunc(t.Context(), w.pool, func(tx pgx.Tx) error {
		return profiles.ApplyLinked(t.Context(), tx, &eventsv1.Event{Id: uuid.NewString(), Type: atsprofiles.EventLinked, OrganizationId: org, Payload: bad})
	}); err == nil {
		t.Fatal("a link of an unknown provider was recorded")
	}
}
