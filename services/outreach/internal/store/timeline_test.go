package store_test

import (
	"fmt"
	"testing"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// A survivor's merged candidates, whose sync decisions its timeline shows
// too (ADR 0027); merges of a merged candidate reach the survivor; another
// organization sees none.
func TestMergedCandidateIDs(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	keep := func(s, _ store.Candidate) store.Candidate { return s }
	survivor := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Survivor"})
	a := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A"})
	b := mustCreate(t, st, store.Candidate{OrgID: org, Name: "B"})
	if _, err := st.MergeCandidates(t.Context(), org, a.ID, b.ID, "x", keep); err != nil {
		t.Fatal(err)
	}
	if ids, err := st.MergedCandidateIDs(t.Context(), org, survivor.ID); err != nil || len(ids) != 0 {
		t.Fatalf("before the merge: %v, %v", ids, err)
	}
	if _, err := st.MergeCandidates(t.Context(), org, survivor.ID, a.ID, "x", keep); err != nil {
		t.Fatal(err)
	}
	ids, err := st.MergedCandidateIDs(t.Context(), org, survivor.ID)
	if err != nil || len(ids) != 2 || fmt.Sprint(ids) != fmt.Sprint(sorted(a.ID, b.ID)) {
		t.Fatalf("merged into the survivor: %v, %v (want %s and %s)", ids, err, a.ID, b.ID)
	}
	if ids, err := st.MergedCandidateIDs(t.Context(), newOrg(), survivor.ID); err != nil || len(ids) != 0 {
		t.Fatalf("another organization: %v, %v", ids, err)
	}
	if ids, err := st.MergedCandidateIDs(t.Context(), org, "not-a-uuid"); err != nil || len(ids) != 0 {
		t.Fatalf("not an id: %v, %v", ids, err)
	}
}

func sorted(a, b string) []string {
	if a > b {
		return []string{b, a}
	}
	return []string{a, b}
}
