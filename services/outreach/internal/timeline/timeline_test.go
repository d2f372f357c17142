package timeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
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
	reads  int
}

func (f *fakeStore) Candidate(_ context.Context, orgID, id string) (store.Candidate, error) {
	if orgID != "org" || (id != "c1" && id != "merged") {
		return store.Candidate{}, postgres.ErrNotFound
	}
	return store.Candidate{ID: "c1"}, nil
}

func (f *fakeStore) MergedCandidateIDs(_ context.Context, orgID, survivorID string) ([]string, error) {
	if orgID != "org" || survivorID != "c1" {
		return nil, errors.New("asked for the wrong candidate's merges")
	}
	return []string{"merged"}, nil
}

func (f *fakeStore) Timeline(_ context.Context, _, candidateID string, v store.Viewer, kinds []string, after string, limit int) ([]store.Entry, error) {
	f.kinds, f.viewer = kinds, v
	if candidateID != "c1" {
		return nil, errors.New("read the wrong candidate")
	}
	f.reads++
	var out []store.Entry
	passed := after == ""
	for _, e := range f.entries {
		if passed && (len(kinds) == 0 || slices.Contains(kinds, e.Kind)) && len(out) < limit {
			out = append(out, e)
		}
		passed = passed || e.ID == after
	}
	return out, nil
}

var member = authz.Principal{OrgID: "org", UserID: "u1", Role: authz.RoleMember}

func TestPagesThroughTheTimeline(t *testing.T) {
	st := &fakeStore{}
	for i := range 5 {
		st.entries = append(st.entries, store.Entry{ID: fmt.Sprintf("e%d", i), Kind: store.KindStageChanged})
	}
	tl := timeline.New(st, nil, nil)
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
	tl := timeline.New(st, nil, nil)
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

// fakeSync is atsbridge's log: decisions in time order, or down.
type fakeSync struct {
	decisions []*atsbridgev1.SyncAuditEntry
	down      bool
	asked     []*atsbridgev1.ListCandidateSyncAuditRequest
}

func (f *fakeSync) ListCandidateSyncAudit(_ context.Context, in *atsbridgev1.ListCandidateSyncAuditRequest, _ ...grpc.CallOption) (*atsbridgev1.ListCandidateSyncAuditResponse, error) {
	f.asked = append(f.asked, in)
	if f.down {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	out := &atsbridgev1.ListCandidateSyncAuditResponse{}
	for _, d := range f.decisions {
		at := d.GetOccurTime().AsTime()
		if in.GetAfterTime() != nil {
			after := in.GetAfterTime().AsTime()
			if at.Before(after) || (at.Equal(after) && d.GetId() <= in.GetAfterId()) {
				continue
			}
		}
		if in.GetOrganizationId() == d.GetOrganizationId() && slices.Contains(in.GetCandidateIds(), d.GetCandidateId()) && len(out.GetEntries()) < int(in.GetPageSize()) {
			out.Entries = append(out.Entries, d)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// world has store entries e0..e4 at seconds 0, 2, 4, 6, 8 and decisions
// d1 (second 1), d2 (second 2: the same time as e1), d3 (3, of the merged
// candidate), d4 (9, after every entry), and one of another organization.
func world() (*fakeStore, *fakeSync) {
	st := &fakeStore{}
	for i := range 5 {
		st.entries = append(st.entries, store.Entry{ID: fmt.Sprintf("e%d", i), Kind: store.KindStageChanged, OccurredAt: t0.Add(time.Duration(2*i) * time.Second)})
	}
	d := func(id int64, candidate string, sec int) *atsbridgev1.SyncAuditEntry {
		return &atsbridgev1.SyncAuditEntry{Id: id, OrganizationId: "org", CandidateId: candidate, Action: "move_stage",
			Outcome: "succeeded", OccurTime: timestamppb.New(t0.Add(time.Duration(sec) * time.Second))}
	}
	other := d(5, "c1", 5)
	other.OrganizationId = "other-org"
	return st, &fakeSync{decisions: []*atsbridgev1.SyncAuditEntry{d(1, "c1", 1), d(2, "c1", 2), d(3, "merged", 3), other, d(4, "c1", 9)}}
}

func readAll(t *testing.T, tl *timeline.Timeline, q timeline.Query, each func(timeline.Page)) []string {
	t.Helper()
	var got []string
	for range 20 {
		page, err := tl.List(t.Context(), member, q)
		if err != nil {
			t.Fatal(err)
		}
		if each != nil {
			each(page)
		}
		for _, e := range page.Entries {
			got = append(got, e.ID)
		}
		if q.PageToken = page.NextPageToken; q.PageToken == "" {
			return got
		}
	}
	t.Fatal("the pages never end")
	return nil
}

func TestMergesTheSyncDecisionsInTimeOrderAcrossPages(t *testing.T) {
	want := "[e0 ats-sync-1 e1 ats-sync-2 ats-sync-3 e2 e3 e4 ats-sync-4]"
	for _, size := range []int{1, 2, 3, 4, 50} {
		st, sync := world()
		tl := timeline.New(st, sync, nil)
		got := readAll(t, tl, timeline.Query{CandidateID: "merged", PageSize: size}, nil)
		if fmt.Sprint(got) != want {
			t.Errorf("page size %d: %v, want %s", size, got, want)
		}
		if a := sync.asked[0]; a.GetOrganizationId() != "org" || fmt.Sprint(a.GetCandidateIds()) != "[c1 merged]" || a.GetAfterTime() != nil {
			t.Errorf("first read asked %v", a)
		}
	}
	st, sync := world()
	page, err := timeline.New(st, sync, nil).List(t.Context(), member, timeline.Query{CandidateID: "c1", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d := page.Entries[1]; d.Kind != timeline.KindATSSync || d.Sync.GetId() != 1 || d.CandidateID != "c1" || !d.OccurredAt.Equal(t0.Add(time.Second)) {
		t.Errorf("a decision reads %+v", d)
	}
}

func TestTheKindsFilterChoosesTheSources(t *testing.T) {
	st, sync := world()
	tl := timeline.New(st, sync, nil)
	if got := readAll(t, tl, timeline.Query{CandidateID: "c1", PageSize: 2, Kinds: []string{timeline.KindATSSync}}, nil); fmt.Sprint(got) != "[ats-sync-1 ats-sync-2 ats-sync-3 ats-sync-4]" || st.reads != 0 {
		t.Errorf("decisions only: %v (store read %d times)", got, st.reads)
	}
	sync.asked = nil
	if got := readAll(t, tl, timeline.Query{CandidateID: "c1", Kinds: []string{store.KindStageChanged}}, nil); len(got) != 5 || len(sync.asked) != 0 {
		t.Errorf("stage changes only: %v (atsbridge asked %d times)", got, len(sync.asked))
	}
	if got := readAll(t, tl, timeline.Query{CandidateID: "c1", PageSize: 3, Kinds: []string{store.KindStageChanged, timeline.KindATSSync}}, nil); len(got) != 9 ||
		fmt.Sprint(st.kinds) != "[stage_changed]" {
		t.Errorf("both: %v (store kinds %v)", got, st.kinds)
	}
}

func TestAPageWithoutAtsbridgeSaysSoAndTheNextGoOnInOrder(t *testing.T) {
	st, sync := world()
	tl := timeline.New(st, sync, nil)
	sync.down = true
	first, err := tl.List(t.Context(), member, timeline.Query{CandidateID: "c1", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !first.SyncUnavailable || len(first.Entries) != 3 || first.Entries[2].ID != "e2" || first.NextPageToken == "" {
		t.Fatalf("page without atsbridge: %+v", first)
	}
	// atsbridge is back: the decisions before e2 were missed (the first
	// page said so); the later ones come in order.
	sync.down = false
	var unavailable []bool
	got := readAll(t, tl, timeline.Query{CandidateID: "c1", PageSize: 3, PageToken: first.NextPageToken}, func(p timeline.Page) {
		unavailable = append(unavailable, p.SyncUnavailable)
	})
	if fmt.Sprint(got) != "[e3 e4 ats-sync-4]" || slices.Contains(unavailable, true) {
		t.Fatalf("after atsbridge came back: %v (unavailable %v)", got, unavailable)
	}
	// Without atsbridge the last page simply has the store's entries.
	sync.down = true
	if got := readAll(t, tl, timeline.Query{CandidateID: "c1"}, nil); len(got) != 5 {
		t.Fatalf("one page without atsbridge: %v", got)
	}
}
