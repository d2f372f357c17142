package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

func TestPurgeRemovesLongDeletedCandidatesWithAllTheirs(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	st := store.New(pool)
	org := newOrg()
	old := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Old", Emails: []string{"old@example.com"}})
	mergedIn := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Merged in", Emails: []string{"merged@example.com"}})
	if _, err := st.CreateNote(t.Context(), org, mergedIn.ID, store.Note{AuthorUserID: "u", Body: "hi"}, noPublish); err != nil {
		t.Fatal(err)
	}
	// The merged candidate's referral and conversation move to the
	// survivor, and go with it.
	job, err := st.CreateJob(t.Context(), store.Job{OrgID: org, Title: "Engineer", Status: store.JobOpen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateReferral(t.Context(), store.Referral{OrgID: org, ReferrerUserID: "u", JobID: job.ID, Name: "Merged in", Email: "merged@example.com", Relationship: "friend"},
		store.Candidate{}, func(context.Context, pgx.Tx, store.ReferralMade) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.RecordMessage(t.Context(), store.MessageRecord{OrgID: org, CandidateID: mergedIn.ID, DedupeKey: "k",
		Message: store.Message{Direction: store.Inbound, Kind: "reply", From: "merged@example.com", MessageAt: time.Now()}},
		func(context.Context, pgx.Tx, store.MessageLogged) error { return nil }); err != nil {
		t.Fatal(err)
	}
	file := mustCreateFile(t, st, org, mergedIn.ID, "cv-of-merged")
	if _, err := st.MergeCandidates(t.Context(), org, old.ID, mergedIn.ID, "u", func(s, m store.Candidate) store.Candidate {
		s.Emails = append(s.Emails, m.Emails...)
		return s
	}); err != nil {
		t.Fatal(err)
	}
	recent := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Recent", Emails: []string{"recent@example.com"}})
	for _, id := range []string{old.ID, recent.ID} {
		if _, err := st.DeleteCandidate(t.Context(), org, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(t.Context(), `UPDATE candidates SET deleted_at = now() - interval '31 days' WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	var removed []string
	n, err := st.PurgeDeletedCandidates(t.Context(), time.Now().Add(-30*24*time.Hour), 10, func(_ context.Context, _ pgx.Tx, keys []string) error {
		removed = append(removed, keys...)
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	// The merged candidate's file went to the survivor, and goes with it.
	if !slices.Equal(removed, []string{file.BlobKey}) {
		t.Fatalf("blobs handed over for removal: %v, want %s", removed, file.BlobKey)
	}
	var files int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM candidate_files`).Scan(&files); err != nil || files != 0 {
		t.Fatalf("%d file rows left (%v)", files, err)
	}
	var left int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM candidates`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d candidates left, want the recent one (%v)", left, err)
	}
	if err := pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM referrals) + (SELECT count(*) FROM conversations) + (SELECT count(*) FROM conversation_messages)`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d referrals, conversations and messages left (%v)", left, err)
	}
	// The purged addresses are free again; the recently deleted one's are not.
	mustCreate(t, st, store.Candidate{OrgID: org, Name: "Old, again", Emails: []string{"old@example.com", "merged@example.com"}})
	if _, err := st.CreateCandidate(t.Context(), store.Candidate{OrgID: org, Name: "x", Emails: []string{"recent@example.com"}}, "u"); err == nil {
		t.Fatal("a recently deleted candidate's address was free")
	}
}
