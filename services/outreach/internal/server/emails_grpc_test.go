package server_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/emails"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func newEmails(t *testing.T, pool *pgxpool.Pool, st *store.Store) *emails.Emails {
	t.Helper()
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	m := emails.New(emails.Options{Store: st, Mailbox: refusingMailbox{}})
	m.SetJobs(jc)
	return m
}

func TestCandidateEmailsOverGRPC(t *testing.T) {
	w := newWorld(t)
	org := uuid.NewString()
	rec := w.asUserID(org, uuid.NewString(), authz.RoleRecruiter)
	cand, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := cand.GetCandidate().GetId()
	req := func() *outreachv1.SendCandidateEmailRequest {
		return &outreachv1.SendCandidateEmailRequest{CandidateId: id, MailboxConnectionId: "conn-1", Subject: "Hello",
			HtmlBody: "<p>Hi</p>", RequestId: "req-1", SendTime: timestamppb.New(time.Now().Add(time.Hour))}
	}
	sent, err := w.client.SendCandidateEmail(rec, req())
	if err != nil {
		t.Fatal(err)
	}
	e := sent.GetEmail()
	if e.GetState() != outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_PENDING || e.GetToAddress() != "ada@example.com" || e.GetSendTime() == nil {
		t.Fatalf("sent %v", e)
	}
	again, err := w.client.SendCandidateEmail(rec, req())
	if err != nil || again.GetEmail().GetId() != e.GetId() {
		t.Fatalf("the same request_id: %v, %v", again, err)
	}

	// Members and Hiring Managers do not write to candidates.
	for _, role := range []authz.Role{authz.RoleMember, authz.RoleHiringManager} {
		_, err = w.client.SendCandidateEmail(w.as(org, role), req())
		wantCode(t, err, codes.PermissionDenied)
		_, err = w.client.ListCandidateEmails(w.as(org, role), &outreachv1.ListCandidateEmailsRequest{CandidateId: id})
		wantCode(t, err, codes.PermissionDenied)
		_, err = w.client.CancelCandidateEmail(w.as(org, role), &outreachv1.CancelCandidateEmailRequest{CandidateId: id, EmailId: e.GetId()})
		wantCode(t, err, codes.PermissionDenied)
	}
	// Another organization's candidate and e-mail are NotFound.
	other := w.as(uuid.NewString(), authz.RoleAdmin)
	_, err = w.client.SendCandidateEmail(other, req())
	wantCode(t, err, codes.NotFound)
	_, err = w.client.ListCandidateEmails(other, &outreachv1.ListCandidateEmailsRequest{CandidateId: id})
	wantCode(t, err, codes.NotFound)
	_, err = w.client.CancelCandidateEmail(other, &outreachv1.CancelCandidateEmailRequest{CandidateId: id, EmailId: e.GetId()})
	wantCode(t, err, codes.NotFound)

	// Bad input names the field.
	bad := req()
	bad.Subject = ""
	_, err = w.client.SendCandidateEmail(rec, bad)
	wantBadField(t, err, "subject")
	bad = req()
	bad.RequestId = ""
	_, err = w.client.SendCandidateEmail(rec, bad)
	wantBadField(t, err, "request_id")
	_, err = w.client.SendCandidateEmail(rec, &outreachv1.SendCandidateEmailRequest{})
	wantBadField(t, err, "candidate_id")
	_, err = w.client.CancelCandidateEmail(rec, &outreachv1.CancelCandidateEmailRequest{CandidateId: id})
	wantBadField(t, err, "email_id")
	_, err = w.client.ListCandidateEmails(rec, &outreachv1.ListCandidateEmailsRequest{CandidateId: id, PageToken: "nonsense"})
	wantBadField(t, err, "page_token")

	// A candidate without an address.
	bare, err := w.client.CreateCandidate(rec, &outreachv1.CreateCandidateRequest{Candidate: &outreachv1.Candidate{Name: "Bare"}})
	if err != nil {
		t.Fatal(err)
	}
	bad = req()
	bad.CandidateId, bad.RequestId = bare.GetCandidate().GetId(), "req-bare"
	_, err = w.client.SendCandidateEmail(rec, bad)
	wantCode(t, err, codes.FailedPrecondition)

	list, err := w.client.ListCandidateEmails(rec, &outreachv1.ListCandidateEmailsRequest{CandidateId: id})
	if err != nil || len(list.GetEmails()) != 1 || list.GetEmails()[0].GetId() != e.GetId() {
		t.Fatalf("list %v, %v", list, err)
	}
	cancelled, err := w.client.CancelCandidateEmail(rec, &outreachv1.CancelCandidateEmailRequest{CandidateId: id, EmailId: e.GetId()})
	if err != nil || cancelled.GetEmail().GetState() != outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_CANCELLED {
		t.Fatalf("cancel %v, %v", cancelled, err)
	}
}
