package store_test

import (
	"fmt"
	"testing"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// BenchmarkCreateCandidates1000 is one bulk create of 1,000 candidates,
// each with an address, in a fresh organization per iteration.
func BenchmarkCreateCandidates1000(b *testing.B) {
	st := store.New(storetest.New(b))
	for b.Loop() {
		org := newOrg()
		rows := make([]store.Candidate, 1000)
		for i := range rows {
			rows[i] = store.Candidate{OrgID: org, Name: fmt.Sprintf("Candidate %d", i), Emails: []string{fmt.Sprintf("c%d@example.com", i)}}
		}
		out, err := st.CreateCandidates(b.Context(), rows, "bench")
		if err != nil || len(out) != 1000 || out[999].Candidate.ID == "" {
			b.Fatalf("%d rows, %v", len(out), err)
		}
	}
}
