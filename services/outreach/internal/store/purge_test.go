package store_test

import (
	"testing"
	"time"

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
	n, err := st.PurgeDeletedCandidates(t.Context(), time.Now().Add(-30*24*time.Hour), 10)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	var left int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM candidates`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d candidates left, want the recent one (%v)", left, err)
	}
	// The purged addresses are free again; the recently deleted one's are not.
	mustCreate(t, st, store.Candidate{OrgID: org, Name: "Old, again", Emails: []string{"old@example.com", "merged@example.com"}})
	if _, err := st.CreateCandidate(t.Context(), store.Candidate{OrgID: org, Name: "x", Emails: []string{"recent@example.com"}}, "u"); err == nil {
		t.Fatal("a recently deleted candidate's address was free")
	}
}
