package candidates_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// fakeStore keeps candidates in a map and counts the writes it was asked
// for; the store's own rules (uniqueness, locks) are tested against
// Postgres.
type fakeStore struct {
	byID   map[string]store.Candidate
	writes int
	rows   []store.BatchRow
	// after and limit are the last search's.
	after *store.Cursor
	limit int
	found []store.Candidate
	defs  []store.FieldDefinition
}

func (f *fakeStore) FieldDefinitions(context.Context, string) ([]store.FieldDefinition, error) {
	return f.defs, nil
}

func newFake() *fakeStore { return &fakeStore{byID: map[string]store.Candidate{}} }

func (f *fakeStore) CreateCandidate(_ context.Context, c store.Candidate, _ string) (store.Candidate, error) {
	f.writes++
	c.ID = fmt.Sprintf("id-%d", len(f.byID))
	f.byID[c.ID] = c
	return c, nil
}

func (f *fakeStore) CreateCandidates(_ context.Context, cs []store.Candidate, _ string) ([]store.BatchRow, error) {
	f.writes++
	out := slices.Clone(f.rows)
	for i := len(out); i < len(cs); i++ {
		out = append(out, store.BatchRow{Candidate: store.Candidate{ID: cs[i].Name}})
	}
	return out, nil
}

func (f *fakeStore) Candidate(_ context.Context, _, id string) (store.Candidate, error) {
	return f.byID[id], nil
}

func (f *fakeStore) UpdateCandidate(_ context.Context, _, id string, change func(store.Candidate) (store.Candidate, error)) (store.Candidate, error) {
	f.writes++
	next, err := change(f.byID[id])
	if err == nil {
		f.byID[id] = next
	}
	return next, err
}

func (f *fakeStore) DeleteCandidate(_ context.Context, _, id string) (store.Candidate, error) {
	f.writes++
	return f.byID[id], nil
}

func (f *fakeStore) UndeleteCandidate(_ context.Context, _, id string, allow func(store.Candidate) error) (store.Candidate, error) {
	f.writes++
	return f.byID[id], allow(f.byID[id])
}

func (f *fakeStore) MergeCandidates(_ context.Context, _, survivorID, mergedID, _ string, combine func(survivor, merged store.Candidate) store.Candidate) (store.Candidate, error) {
	f.writes++
	return combine(f.byID[survivorID], f.byID[mergedID]), nil
}

func (f *fakeStore) SearchCandidates(_ context.Context, _ string, _ store.Filter, _ store.Order, after *store.Cursor, limit int) ([]store.Candidate, error) {
	f.after, f.limit = after, limit
	return f.found, nil
}

var recruiter = authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u1", Role: authz.RoleRecruiter}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
		t.Fatalf("want InvalidArgument on %s, got %v", field, err)
	}
}

func TestCreateChecksEveryFieldAndStoresNothingOnBadInput(t *testing.T) {
	good := store.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}}
	for field, mutate := range map[string]func(*store.Candidate){
		"candidate.name":          func(c *store.Candidate) { c.Name = "  " },
		"candidate.emails[1]":     func(c *store.Candidate) { c.Emails = append(c.Emails, "Ada <ada@x.example>") },
		"candidate.emails[2]":     func(c *store.Candidate) { c.Emails = append(c.Emails, "b@example.com", " ADA@example.com") },
		"candidate.phone":         func(c *store.Candidate) { c.Phone = "call me" },
		"candidate.links[0].kind": func(c *store.Candidate) { c.Links = []store.Link{{URL: "https://x.example"}} },
		"candidate.links[0].url":  func(c *store.Candidate) { c.Links = []store.Link{{Kind: "other", URL: "javascript:alert(1)"}} },
		"candidate.title":         func(c *store.Candidate) { c.Title = "line\nbreak" },
		"candidate.company":       func(c *store.Candidate) { c.Company = strings.Repeat("x", 201) },
		"candidate.time_zone":     func(c *store.Candidate) { c.TimeZone = "Mars/Olympus" },
		"candidate.tags[0]":       func(c *store.Candidate) { c.Tags = []string{""} },
		"candidate.owner_user_id": func(c *store.Candidate) { c.OwnerUserID = "nobody" },
	} {
		st := newFake()
		c := good
		c.Emails = slices.Clone(good.Emails)
		mutate(&c)
		_, err := candidates.New(st, nil).Create(t.Context(), recruiter, c)
		wantField(t, err, field)
		if st.writes != 0 {
			t.Errorf("%s: bad input reached the store", field)
		}
	}
}

func TestCreateNormalisesAndDefaultsTheOwner(t *testing.T) {
	st := newFake()
	c, err := candidates.New(st, nil).Create(t.Context(), recruiter, store.Candidate{
		Name: " Ada ", Emails: []string{" ada@example.com "}, Tags: []string{"a", "a", "b"}, TimeZone: "Europe/Paris",
		Links: []store.Link{{Kind: "linkedin", URL: "https://linkedin.com/in/ada"}, {Kind: "linkedin", URL: "https://linkedin.com/in/ada"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Ada" || c.Emails[0] != "ada@example.com" || fmt.Sprint(c.Tags) != "[a b]" || len(c.Links) != 1 || c.OwnerUserID != "u1" || c.OrgID != "org" {
		t.Fatalf("stored %+v", c)
	}
}

func TestUpdateAppliesOnlyTheMask(t *testing.T) {
	st := newFake()
	cs := candidates.New(st, nil)
	c, err := cs.Create(t.Context(), recruiter, store.Candidate{Name: "Ada", Emails: []string{"ada@example.com"}, Company: "Engines"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cs.Update(t.Context(), "org", c.ID, store.Candidate{Company: "Babbage & Co", Name: "ignored"}, []string{"company"})
	if err != nil || got.Company != "Babbage & Co" || got.Name != "Ada" || len(got.Emails) != 1 {
		t.Fatalf("update: %+v, %v", got, err)
	}
	writes := st.writes
	_, err = cs.Update(t.Context(), "org", c.ID, store.Candidate{}, []string{"name"})
	wantField(t, err, "candidate.name")
	_, err = cs.Update(t.Context(), "org", c.ID, store.Candidate{}, []string{"id"})
	wantField(t, err, "update_mask")
	_, err = cs.Update(t.Context(), "org", c.ID, store.Candidate{}, nil)
	wantField(t, err, "update_mask")
	if st.writes != writes {
		t.Fatal("a refused update reached the store")
	}
}

func TestUndeleteOnlyWithinThirtyDays(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st := newFake()
	recent, old := now.Add(-29*24*time.Hour), now.Add(-31*24*time.Hour)
	st.byID["recent"] = store.Candidate{ID: "recent", DeletedAt: &recent}
	st.byID["old"] = store.Candidate{ID: "old", DeletedAt: &old}
	cs := candidates.New(st, func() time.Time { return now })
	if _, err := cs.Undelete(t.Context(), "org", "recent"); err != nil {
		t.Fatalf("29 days: %v", err)
	}
	_, err := cs.Undelete(t.Context(), "org", "old")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindFailedPrecondition || ae.Reason != "restore_window_passed" {
		t.Fatalf("31 days: %v", err)
	}
}

func TestMergeKeepsBothSides(t *testing.T) {
	s := store.Candidate{ID: "s", Name: "Ada", Emails: []string{"ada@example.com"}, Tags: []string{"a"}, Company: "Engines",
		Links: []store.Link{{Kind: "linkedin", URL: "https://l.example/ada"}}}
	m := store.Candidate{ID: "m", Name: "A. L.", Emails: []string{"ADA@example.com", "al@example.com"}, Tags: []string{"a", "b"},
		Company: "Other", Phone: "+44 1", Links: []store.Link{{Kind: "github", URL: "https://g.example/ada"}, {Kind: "linkedin", URL: "https://l.example/ada"}}}
	got := candidates.Combine(s, m)
	if got.ID != "s" || got.Name != "Ada" || fmt.Sprint(got.Emails) != "[ada@example.com al@example.com]" || fmt.Sprint(got.Tags) != "[a b]" ||
		got.Company != "Engines" || got.Phone != "+44 1" || len(got.Links) != 2 {
		t.Fatalf("combined %+v", got)
	}
	_, err := candidates.New(newFake(), nil).Merge(t.Context(), recruiter, "x", "x")
	wantField(t, err, "merged_id")
}

func TestBatchCreateReportsEveryRow(t *testing.T) {
	st := newFake()
	st.rows = []store.BatchRow{{Candidate: store.Candidate{ID: "c0"}}, {Duplicate: &store.DuplicateEmailError{CandidateID: "old"}}}
	got, err := candidates.New(st, nil).BatchCreate(t.Context(), recruiter, []store.Candidate{
		{Name: "A", Emails: []string{"a@example.com"}},
		{Name: "", Emails: []string{"b@example.com"}},
		{Name: "C", Emails: []string{"c@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []candidates.RowResult{
		{Outcome: candidates.Created, CandidateID: "c0"},
		{Outcome: candidates.Refused, Field: "candidates[1].name", Reason: "must be 1 to 200 characters"},
		{Outcome: candidates.Matched, CandidateID: "old"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %+v, want %+v", got, want)
	}
	_, err = candidates.New(st, nil).BatchCreate(t.Context(), recruiter, make([]store.Candidate, candidates.MaxBatch+1))
	wantField(t, err, "candidates")
}

func TestSearchPagesWithTokensBoundToTheQuery(t *testing.T) {
	st := newFake()
	cs := candidates.New(st, nil)
	st.found = []store.Candidate{{ID: "a", Name: "Ann"}, {ID: "b", Name: "Bob"}, {ID: "c", Name: "Cy"}}
	page, err := cs.Search(t.Context(), "org", candidates.Query{Filter: store.Filter{Tag: "x"}, PageSize: 2})
	if err != nil || len(page.Candidates) != 2 || page.NextPageToken == "" || st.limit != 3 {
		t.Fatalf("first page %+v (limit %d), %v", page, st.limit, err)
	}
	st.found = st.found[2:]
	page, err = cs.Search(t.Context(), "org", candidates.Query{Filter: store.Filter{Tag: "x"}, PageSize: 2, PageToken: page.NextPageToken})
	if err != nil || len(page.Candidates) != 1 || page.NextPageToken != "" || st.after == nil || st.after.ID != "b" || st.after.Name != "bob" {
		t.Fatalf("second page %+v after %+v, %v", page, st.after, err)
	}
	st.found = []store.Candidate{{ID: "a"}, {ID: "b"}}
	first, err := cs.Search(t.Context(), "org", candidates.Query{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.Search(t.Context(), "org", candidates.Query{Filter: store.Filter{Tag: "y"}, PageSize: 1, PageToken: first.NextPageToken})
	wantField(t, err, "page_token")
	_, err = cs.Search(t.Context(), "org", candidates.Query{PageToken: "garbage!"})
	wantField(t, err, "page_token")
	_, err = cs.Search(t.Context(), "org", candidates.Query{PageSize: -1})
	wantField(t, err, "page_size")
	if _, err := cs.Search(t.Context(), "org", candidates.Query{PageSize: 5000}); err != nil || st.limit != candidates.MaxPageSize+1 {
		t.Fatalf("a large page size is capped: limit %d, %v", st.limit, err)
	}
}

func TestCustomFieldsAreCheckedAgainstTheDefinitions(t *testing.T) {
	st := newFake()
	st.defs = []store.FieldDefinition{{Key: "years", Type: "number"}}
	cs := candidates.New(st, nil)
	c, err := cs.Create(t.Context(), recruiter, store.Candidate{Name: "Ada", CustomFields: map[string]string{"years": "3.0"}})
	if err != nil || c.CustomFields["years"] != "3" {
		t.Fatalf("created %+v, %v", c, err)
	}
	_, err = cs.Create(t.Context(), recruiter, store.Candidate{Name: "Ada", CustomFields: map[string]string{"shoe_size": "44"}})
	wantField(t, err, "candidate.custom_fields.shoe_size")
	_, err = cs.Update(t.Context(), "org", c.ID, store.Candidate{CustomFields: map[string]string{"years": "many"}}, []string{"custom_fields"})
	wantField(t, err, "candidate.custom_fields.years")
	rows, err := cs.BatchCreate(t.Context(), recruiter, []store.Candidate{{Name: "B", CustomFields: map[string]string{"years": "x"}}})
	if err != nil || rows[0].Outcome != candidates.Refused || rows[0].Field != "candidates[0].custom_fields.years" {
		t.Fatalf("batch: %+v, %v", rows, err)
	}
	if st.writes != 1 {
		t.Fatalf("bad values reached the store: %d writes", st.writes)
	}
}
