package candidates_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// searchBenchCandidates is the size of the one organization searched.
const searchBenchCandidates = 100_000

// BenchmarkSearch100k searches one organization of 100,000 candidates the
// ways a recruiter does, a first page of 50 each time, and reports the
// p50 and p99 of the searches it timed besides the mean. The organization
// is seeded once (about a minute) through the store's bulk create, so
// every candidate has an address, a company, tags and a stage as real ones
// do; a second organization of 10,000 shares the table, so the searches
// must stay inside their organization. Statistics are brought up to date
// before timing, as autovacuum would have done.
func BenchmarkSearch100k(b *testing.B) {
	pool := storetest.New(b)
	st := store.New(pool)
	org := uuid.NewString()
	seed(b, st, org, searchBenchCandidates)
	seed(b, st, uuid.NewString(), searchBenchCandidates/10)
	// A table that grew this much has been analysed by autovacuum in
	// production; right after the seed its statistics still say empty.
	if _, err := pool.Exec(b.Context(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	c := candidates.New(st, nil)

	queries := []struct {
		name  string
		query candidates.Query
	}{
		{"list_by_name", candidates.Query{}},
		{"list_newest", candidates.Query{Order: store.ByNewest}},
		{"name_full", candidates.Query{Filter: store.Filter{Name: "maria okafor"}}},
		{"name_last", candidates.Query{Filter: store.Filter{Name: "okafor"}}},
		{"name_part", candidates.Query{Filter: store.Filter{Name: "ber"}}},
		{"company", candidates.Query{Filter: store.Filter{Company: "globex 7"}}},
		{"email", candidates.Query{Filter: store.Filter{Email: " C77777@Example.com "}}},
		{"tag", candidates.Query{Filter: store.Filter{Tag: "tag-13"}}},
		{"tag_and_name", candidates.Query{Filter: store.Filter{Tag: "tag-13", Name: "okafor"}}},
		{"owner", candidates.Query{Filter: store.Filter{OwnerUserID: "owner-3"}}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := c.Search(b.Context(), org, q.query); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
	}
	b.Run("page_5_by_name", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			q := candidates.Query{}
			for range 5 {
				p, err := c.Search(b.Context(), org, q)
				if err != nil {
					b.Fatal(err)
				}
				q.PageToken = p.NextPageToken
			}
			took = append(took, time.Since(start)/5)
		}
		reportPercentiles(b, took)
	})
}

// firstNames and lastNames make 2,183 distinct names, each shared by
// about 46 of the 100,000 candidates, as in a real organization.
var (
	firstNames = []string{"Maria", "James", "Aisha", "Wei", "Olga", "Pedro", "Fatima", "John", "Yuki", "Emma",
		"Liam", "Noah", "Sofia", "Lucas", "Amara", "Ivan", "Chloe", "Omar", "Hana", "Diego",
		"Priya", "Mateo", "Zara", "Elena", "Kofi", "Anna", "David", "Sara", "Leon", "Mina",
		"Tomas", "Ines", "Ravi", "Nora", "Felix", "Lena", "Hugo"}
	lastNames = []string{"Okafor", "Smith", "Novak", "Garcia", "Kim", "Müller", "Rossi", "Haddad", "Silva", "Tanaka",
		"Nguyen", "Kowalski", "Berg", "Dubois", "Ivanova", "Mensah", "Cohen", "Larsen", "Patel", "Santos",
		"Weber", "Lopez", "Andersen", "Fischer", "Moreau", "Jansen", "Horvat", "Popescu", "Yilmaz", "Costa",
		"Schmidt", "Nowak", "Ali", "Khan", "Walsh", "Murphy", "Bauer", "Vargas", "Lund", "Keller",
		"Martin", "Roberts", "Evans", "Hughes", "Price", "Reyes", "Cruz", "Ortiz", "Sato", "Suzuki",
		"Chen", "Wang", "Zhang", "Liu", "Singh", "Das", "Bose", "Rao", "Iyer"}
)

// seed bulk-creates n candidates in org, a thousand at a time.
func seed(b *testing.B, st *store.Store, org string, n int) {
	b.Helper()
	for start := 0; start < n; start += candidates.MaxBatch {
		rows := make([]store.Candidate, 0, candidates.MaxBatch)
		for i := start; i < min(n, start+candidates.MaxBatch); i++ {
			rows = append(rows, store.Candidate{
				OrgID:       org,
				Name:        firstNames[i%len(firstNames)] + " " + lastNames[(i/len(firstNames))%len(lastNames)],
				Emails:      []string{fmt.Sprintf("c%d@example.com", i)},
				Company:     fmt.Sprintf("Globex %d", i%1000),
				Title:       "Engineer",
				Tags:        []string{fmt.Sprintf("tag-%d", i%50)},
				OwnerUserID: fmt.Sprintf("owner-%d", i%20),
			})
		}
		out, err := st.CreateCandidates(b.Context(), rows, "bench")
		if err != nil || len(out) != len(rows) {
			b.Fatalf("seed: %d rows, %v", len(out), err)
		}
	}
}

// reportPercentiles adds the p50 and p99 of took, in milliseconds.
func reportPercentiles(b *testing.B, took []time.Duration) {
	b.Helper()
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(p float64) float64 {
		i := int(p * float64(len(took)-1))
		return float64(took[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
