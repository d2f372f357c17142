package timeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/timeline"
)

// fakeStore holds one candidate (also reachable by a merged id) and its
// entries in order.
type fakeStore struct {
	entries []store.Entry
	// kinds and viewer are what the last read asked for.
	kinds  []string
	viewer store.Viewer
}

func (f *fakeStore) Candidate(_ context.Context, orgID, id string) (store.Candidate, error) {
	if orgID != "org" || (id != "c1" && id != "merged") {
		return store.Candidate{}, postgres.ErrNotFound
	}
	return store.Candidate{ID: "c1"}, nil
}

func (f *fakeStore) Timeline(_ context.Context, _, candidateID string, v store.Viewer, kinds []string, after string, limit int) ([]store.Entry, error) {
	f.kinds, f.viewer = kinds, v
	if candidateID != "c1" {
		return nil, errors.New("read the wrong candidate")
	}
	i := 0
	if after != "" {
		i = slices.IndexFunc(f.entries, func(e store.Entry) bool { return e.ID == after }) + 1
	}
	return f.entries[i:min(i+limit, len(f.entries))], nil
}

var member = authz.Principal{OrgID: "org", UserID: "u1", Role: authz.RoleMember}

func TestPagesThroughTheTimeline(t *testing.T) {
	st := &fakeStore{}
	for i := range 5 {
		st.entries = append(st.entries, store.Entry{ID: fmt.Sprintf("e%d", i), Kind: store.KindStageChanged})
	}
	tl := timeline.New(st)
	var got []string
	token := ""
	for range 10 {
		page, err := tl.List(t.Context(), member, timeline.Query{CandidateID: "merged", PageSize: 2, PageToken: token, Kinds: []string{store.KindStageChanged}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			got = append(got, e.ID)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[e0 e1 e2 e3 e4]" || fmt.Sprint(st.kinds) != "[stage_changed]" || st.viewer != (store.Viewer{UserID: "u1"}) {
		t.Fatalf("pages %v (kinds %v)", got, st.kinds)
	}
}

func TestRefusesWhatItCannotRead(t *testing.T) {
	st := &fakeStore{entries: []store.Entry{{ID: "e0"}, {ID: "e1"}}}
	tl := timeline.New(st)
	first, err := tl.List(t.Context(), member, timeline.Query{CandidateID: "c1", PageSize: 1})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	for field, q := range map[string]timeline.Query{
		"kinds[0]":   {CandidateID: "c1", Kinds: []string{"gossip"}},
		"page_size":  {CandidateID: "c1", PageSize: -1},
		"page_token": {CandidateID: "c1", Kinds: []string{store.KindCreated}, PageToken: first.NextPageToken},
	} {
		_, err := tl.List(t.Context(), member, q)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := tl.List(t.Context(), authz.Principal{OrgID: "other-org", Role: authz.RoleAdmin}, timeline.Query{CandidateID: "c1"}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization's candidate: %v", err)
	}
}
