package notes_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// fakeStore holds one note and counts what reached it.
type fakeStore struct {
	note    store.Note
	created []store.Note
	viewer  store.Viewer
}

func (f *fakeStore) CreateNote(_ context.Context, _, _ string, n store.Note) (store.Note, error) {
	f.created = append(f.created, n)
	return n, nil
}

func (f *fakeStore) Notes(_ context.Context, _, _ string, v store.Viewer) ([]store.Note, error) {
	f.viewer = v
	return nil, nil
}

func (f *fakeStore) UpdateNote(_ context.Context, _, _ string, change func(store.Note) (store.Note, error)) (store.Note, error) {
	next, err := change(f.note)
	if err == nil {
		f.note = next
	}
	return next, err
}

func (f *fakeStore) DeleteNote(_ context.Context, _, _ string, allow func(store.Note) error) error {
	return allow(f.note)
}

var (
	ann   = authz.Principal{OrgID: "org", UserID: "ann", Role: authz.RoleRecruiter}
	bob   = authz.Principal{OrgID: "org", UserID: "bob", Role: authz.RoleRecruiter}
	admin = authz.Principal{OrgID: "org", UserID: "root", Role: authz.RoleAdmin}
)

func TestBodyIsPlainTextWithSimpleFormatting(t *testing.T) {
	st := &fakeStore{}
	ns := notes.New(st)
	n, err := ns.Create(t.Context(), ann, "c1", "  Call notes:\r\n- keen\n\t- *relocating*  ", true)
	if err != nil || n.Body != "Call notes:\n- keen\n\t- *relocating*" || !n.Private || n.AuthorUserID != "ann" {
		t.Fatalf("created %+v, %v", n, err)
	}
	for _, bad := range []string{"", "  \n ", "bell\a", "rtl \u202e", strings.Repeat("x", notes.MaxBodyLen+1), "\xff"} {
		_, err := ns.Create(t.Context(), ann, "c1", bad, false)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != "note.body" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if len(st.created) != 1 {
		t.Fatalf("bad bodies reached the store: %d notes", len(st.created))
	}
}

func TestOnlyTheAuthorOrAnAdminChangesANote(t *testing.T) {
	st := &fakeStore{note: store.Note{ID: "n1", AuthorUserID: "ann", Body: "hello"}}
	ns := notes.New(st)
	if _, err := ns.Update(t.Context(), bob, "n1", notes.Update{Paths: []string{"body"}, Body: "mine now"}); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("bob edits ann's public note: %v", err)
	}
	got, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: []string{"visibility"}, Private: true, Body: "ignored"})
	if err != nil || !got.Private || got.Body != "hello" {
		t.Fatalf("ann makes her note private: %+v, %v", got, err)
	}
	// A private note of someone else is not there at all.
	if _, err := ns.Update(t.Context(), bob, "n1", notes.Update{Paths: []string{"body"}, Body: "x"}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("bob edits ann's private note: %v", err)
	}
	if err := ns.Delete(t.Context(), bob, "n1"); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("bob deletes ann's private note: %v", err)
	}
	if _, err := ns.Update(t.Context(), admin, "n1", notes.Update{Paths: []string{"body", "visibility"}, Body: "edited", Private: false}); err != nil || st.note.Body != "edited" || st.note.Private {
		t.Fatalf("an admin edits: %+v, %v", st.note, err)
	}
	if err := ns.Delete(t.Context(), admin, "n1"); err != nil {
		t.Fatalf("an admin deletes: %v", err)
	}
	for _, paths := range [][]string{nil, {"author_user_id"}} {
		_, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: paths})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != "update_mask" {
			t.Errorf("mask %v: %v", paths, err)
		}
	}
	if _, err := ns.List(t.Context(), admin, "c1"); err != nil || st.viewer != (store.Viewer{UserID: "root", Admin: true}) {
		t.Fatalf("list as an admin: %+v, %v", st.viewer, err)
	}
}
