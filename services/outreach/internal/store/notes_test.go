package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func TestNotesAndWhoSeesThem(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Noted", Emails: []string{"noted@example.com"}})
	public, err := st.CreateNote(t.Context(), org, c.ID, store.Note{AuthorUserID: "ann", Body: "great call"}, noPublish)
	if err != nil {
		t.Fatal(err)
	}
	private, err := st.CreateNote(t.Context(), org, c.ID, store.Note{AuthorUserID: "ann", Body: "salary hopes", Private: true}, noPublish)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    store.Viewer
		want int
	}{{store.Viewer{UserID: "ann"}, 2}, {store.Viewer{UserID: "bob"}, 1}, {store.Viewer{UserID: "bob", Admin: true}, 2}} {
		ns, err := st.Notes(t.Context(), org, c.ID, tc.v)
		if err != nil || len(ns) != tc.want {
			t.Errorf("%+v sees %d notes, want %d (%v)", tc.v, len(ns), tc.want, err)
		}
		entries, err := st.Timeline(t.Context(), org, c.ID, tc.v, []string{store.KindNote}, "", 10)
		if err != nil || len(entries) != tc.want {
			t.Errorf("%+v sees %d note entries, want %d (%v)", tc.v, len(entries), tc.want, err)
		}
	}
	if ns, err := st.Notes(t.Context(), org, c.ID, store.Viewer{UserID: "bob"}); err != nil || ns[0].ID != public.ID {
		t.Fatalf("bob should see the public note only: %+v, %v", ns, err)
	}
	// Made public, the note and its entry show to everyone.
	if _, err := st.UpdateNote(t.Context(), org, private.ID, func(n store.Note) (store.Note, error) { n.Private = false; return n, nil }, noPublish); err != nil {
		t.Fatal(err)
	}
	if entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{UserID: "bob"}, []string{store.KindNote}, "", 10); err != nil || len(entries) != 2 {
		t.Fatalf("after making it public: %+v, %v", entries, err)
	}
	refuse := errors.New("no")
	if err := st.DeleteNote(t.Context(), org, public.ID, func(store.Note) error { return refuse }, noPublish); !errors.Is(err, refuse) {
		t.Fatalf("a refused delete: %v", err)
	}
	if err := st.DeleteNote(t.Context(), org, public.ID, func(store.Note) error { return nil }, noPublish); err != nil {
		t.Fatal(err)
	}
	if entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{Admin: true}, []string{store.KindNote}, "", 10); err != nil || len(entries) != 1 {
		t.Fatalf("a deleted note leaves the timeline: %+v, %v", entries, err)
	}
	if err := st.DeleteNote(t.Context(), newOrg(), private.ID, func(store.Note) error { return nil }, noPublish); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization deletes a note: %v", err)
	}
	if _, err := st.CreateNote(t.Context(), newOrg(), c.ID, store.Note{Body: "x"}, noPublish); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization notes the candidate: %v", err)
	}

	// The survivor of a merge keeps the merged candidate's notes.
	other := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Other"})
	if _, err := st.CreateNote(t.Context(), org, other.ID, store.Note{AuthorUserID: "bob", Body: "met at a fair"}, noPublish); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MergeCandidates(t.Context(), org, c.ID, other.ID, "x", func(s, _ store.Candidate) store.Candidate { return s }); err != nil {
		t.Fatal(err)
	}
	if ns, err := st.Notes(t.Context(), org, other.ID, store.Viewer{Admin: true}); err != nil || len(ns) != 2 {
		t.Fatalf("the survivor's notes: %+v, %v", ns, err)
	}
}

// noPublish stands for the notes package's callback where events are not
// under test.
func noPublish(context.Context, pgx.Tx, store.NoteChange) error { return nil }
