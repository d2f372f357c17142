package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.New(storetest.New(t))
}

func newOrg() string { return uuid.NewString() }

func mustCreate(t *testing.T, st *store.Store, c store.Candidate) store.Candidate {
	t.Helper()
	out, err := st.CreateCandidate(t.Context(), c, "actor")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateAndReadBack(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	in := store.Candidate{OrgID: org, Name: "Ada Lovelace", Emails: []string{"ada@example.com", "ada@work.example"},
		Links: []store.Link{{Kind: "linkedin", URL: "https://www.linkedin.com/in/ada"}}, Tags: []string{"math"},
		Title: "Analyst", Company: "Engines", TimeZone: "Europe/London", OwnerUserID: "owner"}
	c := mustCreate(t, st, in)
	got, err := st.Candidate(t.Context(), org, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != in.Name || fmt.Sprint(got.Emails) != fmt.Sprint(in.Emails) || len(got.Links) != 1 || got.Links[0] != in.Links[0] ||
		fmt.Sprint(got.Tags) != "[math]" || got.OwnerUserID != "owner" || got.CreatedAt.IsZero() || !got.Live() {
		t.Fatalf("read back %+v", got)
	}
	if _, err := st.Candidate(t.Context(), newOrg(), c.ID); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization reads the candidate: %v", err)
	}
	if _, err := st.Candidate(t.Context(), org, "not-a-uuid"); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("a malformed id: %v", err)
	}
	entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{}, nil, "", 10)
	if err != nil || len(entries) != 1 || entries[0].Kind != store.KindCreated || entries[0].ActorUserID != "actor" {
		t.Fatalf("timeline %+v, %v", entries, err)
	}
}

// One address is one candidate per organization, compared
// case-insensitively after trimming, even when two creates race; another
// organization may have the same address.
func TestEmailIsUniquePerOrganization(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	first := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A", Emails: []string{"ada@example.com"}})
	_, err := st.CreateCandidate(t.Context(), store.Candidate{OrgID: org, Name: "B", Emails: []string{"new@example.com", "  ADA@Example.com "}}, "x")
	var dup *store.DuplicateEmailError
	if !errors.As(err, &dup) || dup.CandidateID != first.ID {
		t.Fatalf("want a duplicate naming %s, got %v", first.ID, err)
	}
	found, err := st.SearchCandidates(t.Context(), org, store.Filter{Email: "new@example.com"}, store.ByName, nil, 10)
	if err != nil || len(found) != 0 {
		t.Fatalf("a refused create left %v behind (%v)", found, err)
	}
	mustCreate(t, st, store.Candidate{OrgID: newOrg(), Name: "A elsewhere", Emails: []string{"ada@example.com"}})

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = st.CreateCandidate(t.Context(), store.Candidate{OrgID: org, Name: "Racer", Emails: []string{"RACE@example.com"}}, "x")
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.As(err, &dup):
			t.Fatalf("a racing create failed otherwise: %v", err)
		}
	}
	if created != 1 {
		t.Fatalf("%d racing creates of one address succeeded", created)
	}
}

func TestUpdateReplacesEmailsUnderTheLock(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	a := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A", Emails: []string{"a@example.com"}})
	b := mustCreate(t, st, store.Candidate{OrgID: org, Name: "B", Emails: []string{"b@example.com"}})
	got, err := st.UpdateCandidate(t.Context(), org, a.ID, func(c store.Candidate) (store.Candidate, error) {
		c.Name, c.Emails = "A2", []string{"a2@example.com", "a@example.com"}
		return c, nil
	})
	if err != nil || got.Name != "A2" || fmt.Sprint(got.Emails) != "[a2@example.com a@example.com]" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	_, err = st.UpdateCandidate(t.Context(), org, a.ID, func(c store.Candidate) (store.Candidate, error) {
		c.Name, c.Emails = "stolen", []string{"B@example.com"}
		return c, nil
	})
	var dup *store.DuplicateEmailError
	if !errors.As(err, &dup) || dup.CandidateID != b.ID {
		t.Fatalf("taking b's address: %v", err)
	}
	if got, err := st.Candidate(t.Context(), org, a.ID); err != nil || got.Name != "A2" || len(got.Emails) != 2 {
		t.Fatalf("a refused update changed the candidate: %+v, %v", got, err)
	}
	if _, err := st.UpdateCandidate(t.Context(), newOrg(), a.ID, func(c store.Candidate) (store.Candidate, error) { return c, nil }); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization updates: %v", err)
	}
}

func TestDeleteAndUndelete(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Gone", Emails: []string{"gone@example.com"}})
	deleted, err := st.DeleteCandidate(t.Context(), org, c.ID)
	if err != nil || deleted.DeletedAt == nil {
		t.Fatalf("delete: %+v, %v", deleted, err)
	}
	if found, err := st.SearchCandidates(t.Context(), org, store.Filter{}, store.ByName, nil, 10); err != nil || len(found) != 0 {
		t.Fatalf("a deleted candidate is listed: %v, %v", found, err)
	}
	if _, err := st.UpdateCandidate(t.Context(), org, c.ID, func(c store.Candidate) (store.Candidate, error) { return c, nil }); !errors.Is(err, store.ErrNotLive) {
		t.Fatalf("updating a deleted candidate: %v", err)
	}
	refuse := errors.New("too late")
	if _, err := st.UndeleteCandidate(t.Context(), org, c.ID, func(store.Candidate) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("a refused restore: %v", err)
	}
	back, err := st.UndeleteCandidate(t.Context(), org, c.ID, func(store.Candidate) error { return nil })
	if err != nil || back.DeletedAt != nil {
		t.Fatalf("restore: %+v, %v", back, err)
	}
	if _, err := st.UndeleteCandidate(t.Context(), org, c.ID, func(store.Candidate) error { return nil }); !errors.Is(err, store.ErrNotDeleted) {
		t.Fatalf("restoring a live candidate: %v", err)
	}
}

func TestMergeMovesEverythingAndResolves(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	survivor := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Ada", Emails: []string{"ada@example.com"}})
	merged := mustCreate(t, st, store.Candidate{OrgID: org, Name: "A. Lovelace", Emails: []string{"lovelace@example.com"}})
	combine := func(s, m store.Candidate) store.Candidate {
		s.Emails = append(append([]string{}, s.Emails...), m.Emails...)
		return s
	}
	out, err := st.MergeCandidates(t.Context(), org, survivor.ID, merged.ID, "actor", combine)
	if err != nil || fmt.Sprint(out.Emails) != "[ada@example.com lovelace@example.com]" {
		t.Fatalf("merge: %+v, %v", out, err)
	}
	got, err := st.Candidate(t.Context(), org, merged.ID)
	if err != nil || got.ID != survivor.ID {
		t.Fatalf("the merged id should resolve to the survivor: %+v, %v", got, err)
	}
	// A later merge of the survivor passes the earlier merged id on.
	third := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Third", Emails: []string{"third@example.com"}})
	if _, err := st.MergeCandidates(t.Context(), org, third.ID, survivor.ID, "actor", combine); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Candidate(t.Context(), org, merged.ID); err != nil || got.ID != third.ID || len(got.Emails) != 3 {
		t.Fatalf("after a second merge: %+v, %v", got, err)
	}
	entries, err := st.Timeline(t.Context(), org, third.ID, store.Viewer{}, []string{store.KindMerged}, "", 10)
	if err != nil || len(entries) != 4 {
		t.Fatalf("the survivor's timeline shows every merge of both sides: %+v, %v", entries, err)
	}
	if _, err := st.MergeCandidates(t.Context(), org, third.ID, merged.ID, "actor", combine); !errors.Is(err, store.ErrNotLive) {
		t.Fatalf("merging a candidate into itself through an old id: %v", err)
	}
	if _, err := st.MergeCandidates(t.Context(), newOrg(), third.ID, uuid.NewString(), "actor", combine); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("merging in another organization: %v", err)
	}
}

func TestCreateCandidatesReportsEachRow(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	existing := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Old", Emails: []string{"old@example.com"}})
	rows, err := st.CreateCandidates(t.Context(), []store.Candidate{
		{OrgID: org, Name: "New", Emails: []string{"new@example.com"}},
		{OrgID: org, Name: "Old again", Emails: []string{"OLD@example.com"}},
		{OrgID: org, Name: "New twice", Emails: []string{"other@example.com", "new@example.com"}},
	}, "actor")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Candidate.ID == "" || rows[1].Duplicate == nil || rows[1].Duplicate.CandidateID != existing.ID ||
		rows[2].Duplicate == nil || rows[2].Duplicate.CandidateID != rows[0].Candidate.ID {
		t.Fatalf("rows %+v", rows)
	}
	if found, err := st.SearchCandidates(t.Context(), org, store.Filter{Email: "other@example.com"}, store.ByName, nil, 10); err != nil || len(found) != 0 {
		t.Fatalf("a matched row left an address behind: %v, %v", found, err)
	}
}

func TestSearchFiltersSortsAndPages(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	for i, name := range []string{"carol", "Alice", "bob", "Dave"} {
		mustCreate(t, st, store.Candidate{OrgID: org, Name: name, Emails: []string{fmt.Sprintf("p%d@example.com", i)},
			Company: map[bool]string{true: "Acme 100%", false: "Globex"}[i%2 == 0], Tags: []string{fmt.Sprintf("t%d", i%2)}, OwnerUserID: "o"})
	}
	mustCreate(t, st, store.Candidate{OrgID: newOrg(), Name: "Alien", Emails: []string{"p0@example.com"}})
	names := func(cs []store.Candidate) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return fmt.Sprint(out)
	}
	all, err := st.SearchCandidates(t.Context(), org, store.Filter{}, store.ByName, nil, 10)
	if err != nil || names(all) != "[Alice bob carol Dave]" {
		t.Fatalf("by name: %s, %v", names(all), err)
	}
	newest, err := st.SearchCandidates(t.Context(), org, store.Filter{}, store.ByNewest, nil, 10)
	if err != nil || names(newest) != "[Dave bob Alice carol]" {
		t.Fatalf("newest first: %s, %v", names(newest), err)
	}
	page2, err := st.SearchCandidates(t.Context(), org, store.Filter{}, store.ByName, &store.Cursor{Name: "bob", ID: all[1].ID}, 10)
	if err != nil || names(page2) != "[carol Dave]" {
		t.Fatalf("after bob: %s, %v", names(page2), err)
	}
	page2, err = st.SearchCandidates(t.Context(), org, store.Filter{}, store.ByNewest, &store.Cursor{CreatedAt: newest[1].CreatedAt, ID: newest[1].ID}, 10)
	if err != nil || names(page2) != "[Alice carol]" {
		t.Fatalf("newest after bob: %s, %v", names(page2), err)
	}
	for _, tc := range []struct {
		f    store.Filter
		want string
	}{
		{store.Filter{Name: "AL"}, "[Alice]"},
		{store.Filter{Company: "100%"}, "[bob carol]"},
		{store.Filter{Company: "_"}, "[]"},
		{store.Filter{Email: " P3@EXAMPLE.com"}, "[Dave]"},
		{store.Filter{Tag: "t1"}, "[Alice Dave]"},
		{store.Filter{OwnerUserID: "o", Tag: "t0", Name: "B"}, "[bob]"},
	} {
		got, err := st.SearchCandidates(t.Context(), org, tc.f, store.ByName, nil, 10)
		if err != nil || names(got) != tc.want {
			t.Errorf("%+v: %s, want %s (%v)", tc.f, names(got), tc.want, err)
		}
	}
}
