package referrals_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/referrals"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

type world struct {
	pool *pgxpool.Pool
	st   *store.Store
	rs   *referrals.Referrals
	org  string
}

// newWorld is the referrals over the real store and the real outbox.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	st := store.New(pool)
	return &world{pool: pool, st: st, rs: referrals.New(st, storetest.Publisher(t, pool), nil), org: uuid.NewString()}
}

func (w *world) member(t *testing.T) authz.Principal {
	t.Helper()
	return authz.Principal{Kind: authz.KindUser, OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleMember}
}

func (w *world) job(t *testing.T, status string) store.Job {
	t.Helper()
	j, err := w.st.CreateJob(t.Context(), store.Job{OrgID: w.org, Title: "Staff engineer", Status: status, ExternalSource: "lever", ExternalID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func referral(jobID, email string) store.Referral {
	return store.Referral{JobID: jobID, Name: " Ada Lovelace ", Email: email, LinkedInURL: "https://www.linkedin.com/in/ada",
		Relationship: "we built the engine together", Note: "Brilliant.\n- knows Babbage"}
}

func wantKind(t *testing.T, err error, kind apperr.Kind, reason string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != kind || ae.Reason != reason {
		t.Fatalf("want %v %q, got %v", kind, reason, err)
	}
}

func TestReferralCreatesTheCandidateAndPublishesInItsTransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := w.member(t)
	j := w.job(t, store.JobOpen)
	r, err := w.rs.Create(t.Context(), ann, referral(j.ID, "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ReferrerUserID != ann.UserID || !r.CandidateCreated || r.Name != "Ada Lovelace" || r.CandidateID == "" || r.Note != "Brilliant.\n- knows Babbage" {
		t.Fatalf("referral %+v", r)
	}
	c, err := w.st.Candidate(t.Context(), w.org, r.CandidateID)
	if err != nil || c.Name != "Ada Lovelace" || fmt.Sprint(c.Emails) != "[ada@example.com]" || c.Source != referrals.Source ||
		len(c.Links) != 1 || c.Links[0].Kind != "linkedin" {
		t.Fatalf("candidate %+v, %v", c, err)
	}
	entries, err := w.st.Timeline(t.Context(), w.org, c.ID, store.Viewer{}, nil, "", 10)
	if err != nil || len(entries) != 2 || entries[0].Kind != store.KindCreated || entries[1].Kind != store.KindReferralCreated ||
		entries[1].ActorUserID != ann.UserID || entries[1].Detail["referral_id"] != r.ID || entries[1].Detail["job_title"] != "Staff engineer" {
		t.Fatalf("timeline %+v, %v", entries, err)
	}
	evs := storetest.Published(t, w.pool, referrals.EventCreated)
	if len(evs) != 1 {
		t.Fatalf("published %d referral events", len(evs))
	}
	payload := &outreachv1.ReferralCreated{}
	if err := evs[0].GetPayload().UnmarshalTo(payload); err != nil {
		t.Fatal(err)
	}
	if evs[0].GetAggregateId() != r.ID || evs[0].GetOrganizationId() != w.org || evs[0].GetVersion() != 0 ||
		payload.GetReferralId() != r.ID || payload.GetCandidateId() != c.ID || payload.GetJobId() != j.ID || payload.GetReferrerUserId() != ann.UserID ||
		!payload.GetCandidateCreated() || payload.GetJobExternalSource() != outreachv1.JobSource_JOB_SOURCE_LEVER || payload.GetJobExternalId() != j.ExternalID ||
		payload.GetName() != "Ada Lovelace" || payload.GetEmail() != "ada@example.com" || payload.GetRelationship() != "we built the engine together" ||
		payload.GetNote() != r.Note || payload.GetJobTitle() != "Staff engineer" || payload.GetLinkedinUrl() != "https://www.linkedin.com/in/ada" {
		t.Fatalf("event %v, payload %v", evs[0], payload)
	}
}

// The same address, typed differently, links the existing candidate; the
// same referrer, job and candidate again is refused and changes nothing.
func TestReferralLinksByAddressAndIsMadeOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann, bob := w.member(t), w.member(t)
	j := w.job(t, store.JobOpen)
	first, err := w.rs.Create(t.Context(), ann, referral(j.ID, "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.rs.Create(t.Context(), bob, referral(j.ID, "  ADA@Example.com "))
	if err != nil {
		t.Fatal(err)
	}
	if second.CandidateID != first.CandidateID || second.CandidateCreated {
		t.Fatalf("the second referral should link %s: %+v", first.CandidateID, second)
	}
	_, err = w.rs.Create(t.Context(), ann, referral(j.ID, "Ada@example.com"))
	wantKind(t, err, apperr.KindAlreadyExists, "referral_exists")
	var exists *store.ReferralExistsError
	if !errors.As(err, &exists) || exists.ReferralID != first.ID {
		t.Fatalf("the refusal should name %s: %v", first.ID, err)
	}
	all, err := w.st.Referrals(t.Context(), w.org, store.ReferralFilter{CandidateID: first.CandidateID}, "", 10)
	if err != nil || len(all) != 2 || all[0].ID != second.ID {
		t.Fatalf("referrals of the candidate, newest first: %+v, %v", all, err)
	}
	if evs := storetest.Published(t, w.pool, referrals.EventCreated); len(evs) != 2 {
		t.Fatalf("published %d referral events, want 2", len(evs))
	}
	// Another job is another referral.
	if _, err := w.rs.Create(t.Context(), ann, referral(w.job(t, store.JobOpen).ID, "ada@example.com")); err != nil {
		t.Fatal(err)
	}
}

// Many members referring one new person at once make one candidate.
func TestConcurrentReferralsMakeOneCandidate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	j := w.job(t, store.JobOpen)
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := w.member(t)
		wg.Go(func() {
			r, err := w.rs.Create(context.WithoutCancel(t.Context()), p, referral(j.ID, fmt.Sprintf(" grace@EXAMPLE.com%s", []string{"", " "}[i%2])))
			ids[i], errs[i] = r.CandidateID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("referral %d: candidate %s, %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
	found, err := w.st.SearchCandidates(t.Context(), w.org, store.Filter{Email: "grace@example.com"}, store.ByName, nil, 10)
	if err != nil || len(found) != 1 {
		t.Fatalf("candidates with the address: %d, %v", len(found), err)
	}
}

func TestReferralToAJobThatTakesNoneStoresNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := w.member(t)
	for _, status := range []string{store.JobClosed, store.JobDraft} {
		_, err := w.rs.Create(t.Context(), ann, referral(w.job(t, status).ID, "ada@example.com"))
		wantKind(t, err, apperr.KindFailedPrecondition, "job_not_open")
	}
	other, err := w.st.CreateJob(t.Context(), store.Job{OrgID: uuid.NewString(), Title: "Theirs", Status: store.JobOpen})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{other.ID, uuid.NewString(), "not-an-id"} {
		if _, err := w.rs.Create(t.Context(), ann, referral(id, "ada@example.com")); !errors.Is(err, postgres.ErrNotFound) {
			t.Fatalf("job %s: want not found, got %v", id, err)
		}
	}
	w.wantNothingStored(t)
}

// Bad input names its field and reaches no store.
func TestBadReferralNamesItsField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	j := w.job(t, store.JobOpen)
	for field, change := range map[string]func(*store.Referral){
		"referral.job_id":       func(r *store.Referral) { r.JobID = "" },
		"referral.name":         func(r *store.Referral) { r.Name = " " },
		"referral.email":        func(r *store.Referral) { r.Email = "Ada <ada@example.com>" },
		"referral.linkedin_url": func(r *store.Referral) { r.LinkedInURL = "javascript:alert(1)" },
		"referral.relationship": func(r *store.Referral) { r.Relationship = "" },
		"referral.note":         func(r *store.Referral) { r.Note = "bell\a" },
	} {
		r := referral(j.ID, "ada@example.com")
		change(&r)
		_, err := w.rs.Create(t.Context(), w.member(t), r)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	nobody := w.member(t)
	nobody.UserID = ""
	if _, err := w.rs.Create(t.Context(), nobody, referral(j.ID, "ada@example.com")); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("a referral without a referrer: %v", err)
	}
	w.wantNothingStored(t)
}

// failAfter publishes for real and then fails, as a later step of the
// transaction would: the rollback takes the event with the referral.
type failAfter struct{ pub *events.Publisher }

var errLater = errors.New("a later step failed")

func (f failAfter) Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	if _, err := f.pub.Publish(ctx, tx, ev); err != nil {
		return "", err
	}
	return "", errLater
}

func TestNothingIsPublishedWhenTheReferralRollsBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rs := referrals.New(w.st, failAfter{pub: storetest.Publisher(t, w.pool)}, nil)
	if _, err := rs.Create(t.Context(), w.member(t), referral(w.job(t, store.JobOpen).ID, "ada@example.com")); !errors.Is(err, errLater) {
		t.Fatalf("want the later failure, got %v", err)
	}
	w.wantNothingStored(t)
}

// wantNothingStored checks no referral, candidate or event was left.
func (w *world) wantNothingStored(t *testing.T) {
	t.Helper()
	if rs, err := w.st.Referrals(t.Context(), w.org, store.ReferralFilter{}, "", 10); err != nil || len(rs) != 0 {
		t.Fatalf("referrals stored: %+v, %v", rs, err)
	}
	if cs, err := w.st.SearchCandidates(t.Context(), w.org, store.Filter{}, store.ByName, nil, 10); err != nil || len(cs) != 0 {
		t.Fatalf("candidates stored: %+v, %v", cs, err)
	}
	if evs := storetest.Published(t, w.pool, ""); len(evs) != 0 {
		t.Fatalf("events published: %v", evs)
	}
}

// A member lists their own referrals only; a recruiter lists every one,
// by referrer, job or candidate, a page at a time.
func TestWhoListsWhichReferrals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann, bob := w.member(t), w.member(t)
	recruiter := authz.Principal{Kind: authz.KindUser, OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	j1, j2 := w.job(t, store.JobOpen), w.job(t, store.JobOpen)
	var annIDs []string
	for i := range 3 {
		r, err := w.rs.Create(t.Context(), ann, referral(j1.ID, fmt.Sprintf("p%d@example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		annIDs = append(annIDs, r.ID)
	}
	bobs, err := w.rs.Create(t.Context(), bob, referral(j2.ID, "p0@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	// Ann's own, newest first, two at a time.
	page, err := w.rs.List(t.Context(), ann, referrals.Query{PageSize: 2})
	if err != nil || len(page.Referrals) != 2 || page.Referrals[0].ID != annIDs[2] || page.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	next, err := w.rs.List(t.Context(), ann, referrals.Query{PageSize: 2, PageToken: page.NextPageToken})
	if err != nil || len(next.Referrals) != 1 || next.Referrals[0].ID != annIDs[0] || next.NextPageToken != "" {
		t.Fatalf("second page: %+v, %v", next, err)
	}
	if _, err := w.rs.List(t.Context(), ann, referrals.Query{JobID: j2.ID, PageToken: page.NextPageToken}); err == nil {
		t.Fatal("a token of another list is accepted")
	}
	// Her view of a candidate or job holds only hers.
	if got, err := w.rs.List(t.Context(), ann, referrals.Query{CandidateID: bobs.CandidateID}); err != nil || len(got.Referrals) != 1 || got.Referrals[0].ReferrerUserID != ann.UserID {
		t.Fatalf("ann's referrals of the candidate: %+v, %v", got, err)
	}
	if _, err := w.rs.List(t.Context(), ann, referrals.Query{ReferrerUserID: bob.UserID}); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("ann lists bob's referrals: %v", err)
	}
	if _, err := w.rs.Get(t.Context(), ann, bobs.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("ann reads bob's referral: %v", err)
	}
	for _, tc := range []struct {
		q    referrals.Query
		want int
	}{{referrals.Query{}, 4}, {referrals.Query{ReferrerUserID: bob.UserID}, 1}, {referrals.Query{JobID: j1.ID}, 3}, {referrals.Query{CandidateID: bobs.CandidateID}, 2}} {
		got, err := w.rs.List(t.Context(), recruiter, tc.q)
		if err != nil || len(got.Referrals) != tc.want {
			t.Errorf("recruiter lists %+v: %d, %v; want %d", tc.q, len(got.Referrals), err, tc.want)
		}
	}
	if r, err := w.rs.Get(t.Context(), recruiter, bobs.ID); err != nil || r.ID != bobs.ID {
		t.Fatalf("a recruiter reads bob's referral: %+v, %v", r, err)
	}
	other := authz.Principal{Kind: authz.KindUser, OrgID: uuid.NewString(), UserID: uuid.NewString(), Role: authz.RoleAdmin}
	if _, err := w.rs.Get(t.Context(), other, bobs.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization reads the referral: %v", err)
	}
	if _, err := w.rs.List(t.Context(), other, referrals.Query{CandidateID: bobs.CandidateID}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization lists by the candidate: %v", err)
	}
}

// A merge gives the survivor the other's referrals; the merged id lists
// them too.
func TestTheSurvivorOfAMergeKeepsTheReferrals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := w.member(t)
	j := w.job(t, store.JobOpen)
	a, err := w.rs.Create(t.Context(), ann, referral(j.ID, "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.rs.Create(t.Context(), ann, referral(j.ID, "ada@work.example"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.MergeCandidates(t.Context(), w.org, a.CandidateID, b.CandidateID, "u", func(s, m store.Candidate) store.Candidate {
		s.Emails = append(s.Emails, m.Emails...)
		return s
	}); err != nil {
		t.Fatal(err)
	}
	recruiter := authz.Principal{Kind: authz.KindUser, OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	for _, id := range []string{a.CandidateID, b.CandidateID} {
		got, err := w.rs.List(t.Context(), recruiter, referrals.Query{CandidateID: id})
		if err != nil || len(got.Referrals) != 2 || got.Referrals[0].CandidateID != a.CandidateID || got.Referrals[1].CandidateID != a.CandidateID {
			t.Fatalf("referrals of %s after the merge: %+v, %v", id, got, err)
		}
	}
	// Both addresses now find the survivor, and the referral was made.
	_, err = w.rs.Create(t.Context(), ann, referral(j.ID, "ada@work.example"))
	wantKind(t, err, apperr.KindAlreadyExists, "referral_exists")
}
