package notes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// fakeStore holds one note and counts what reached it.
type fakeStore struct {
	note    store.Note
	created []store.Note
	viewer  store.Viewer
}

func (f *fakeStore) CreateNote(ctx context.Context, _, _ string, n store.Note, publish store.PublishNote) (store.Note, error) {
	f.created = append(f.created, n)
	return n, publish(ctx, nil, store.NoteChange{After: &n})
}

func (f *fakeStore) Notes(_ context.Context, _, _ string, v store.Viewer) ([]store.Note, error) {
	f.viewer = v
	return nil, nil
}

func (f *fakeStore) UpdateNote(ctx context.Context, _, _ string, change func(store.Note) (store.Note, error), publish store.PublishNote) (store.Note, error) {
	cur := f.note
	next, err := change(cur)
	if err != nil {
		return next, err
	}
	next.UpdatedAt = cur.UpdatedAt.Add(time.Microsecond)
	f.note = next
	return next, publish(ctx, nil, store.NoteChange{Before: &cur, After: &next})
}

func (f *fakeStore) DeleteNote(ctx context.Context, _, _ string, allow func(store.Note) error, publish store.PublishNote) error {
	if err := allow(f.note); err != nil {
		return err
	}
	cur := f.note
	return publish(ctx, nil, store.NoteChange{Before: &cur})
}

// published records what the notes publish.
type published []events.Event

func (p *published) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	*p = append(*p, ev)
	return "id", nil
}

var (
	ann   = authz.Principal{OrgID: "org", UserID: "ann", Role: authz.RoleRecruiter}
	bob   = authz.Principal{OrgID: "org", UserID: "bob", Role: authz.RoleRecruiter}
	admin = authz.Principal{OrgID: "org", UserID: "root", Role: authz.RoleAdmin}
)

func TestBodyIsPlainTextWithSimpleFormatting(t *testing.T) {
	st := &fakeStore{}
	ns := notes.New(st, &published{}, nil)
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
	ns := notes.New(st, &published{}, nil)
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

// Public notes are published; private ones never leave Tandem, except the
// retraction of a public note made private, which carries no body.
func TestOnlyPublicNotesArePublished(t *testing.T) {
	st := &fakeStore{}
	var pub published
	ns := notes.New(st, &pub, nil)
	if _, err := ns.Create(t.Context(), ann, "c1", "salary hopes", true); err != nil {
		t.Fatal(err)
	}
	if len(pub) != 0 {
		t.Fatalf("a private note was published: %+v", pub)
	}
	st.note = store.Note{ID: "n1", OrgID: "org", CandidateID: "c1", AuthorUserID: "ann", Body: "great call", UpdatedAt: time.UnixMicro(1000)}
	steps := []struct {
		name    string
		do      func() error
		typ     string
		private bool
		body    string
	}{
		{"edit a public note", func() error {
			_, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: []string{"body"}, Body: "great call, keen"})
			return err
		}, notes.EventUpdated, false, "great call, keen"},
		{"make it private", func() error {
			_, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: []string{"visibility"}, Private: true})
			return err
		}, notes.EventUpdated, true, ""},
		{"edit it while private", func() error {
			_, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: []string{"body"}, Body: "secret"})
			return err
		}, "", false, ""},
		{"make it public again", func() error {
			_, err := ns.Update(t.Context(), ann, "n1", notes.Update{Paths: []string{"visibility"}, Private: false})
			return err
		}, notes.EventUpdated, false, "secret"},
		{"delete it", func() error { return ns.Delete(t.Context(), ann, "n1") }, notes.EventDeleted, false, ""},
	}
	var lastVersion int64
	for _, step := range steps {
		before := len(pub)
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if step.typ == "" {
			if len(pub) != before {
				t.Fatalf("%s published %+v", step.name, pub[before:])
			}
			continue
		}
		if len(pub) != before+1 {
			t.Fatalf("%s published %d events", step.name, len(pub)-before)
		}
		ev := pub[before]
		payload, ok := ev.Payload.(*outreachv1.NoteChanged)
		if !ok || ev.Type != step.typ || ev.AggregateID != "n1" || ev.OrganizationID != "org" || payload.GetPrivate() != step.private || payload.GetBody() != step.body {
			t.Fatalf("%s: %s %+v", step.name, ev.Type, ev.Payload)
		}
		if ev.Type == notes.EventUpdated {
			if ev.Version <= lastVersion {
				t.Fatalf("%s: version %d after %d", step.name, ev.Version, lastVersion)
			}
			lastVersion = ev.Version
		}
	}
	if _, err := ns.Create(t.Context(), ann, "c1", "public", false); err != nil || len(pub) != 5 || pub[4].Type != notes.EventCreated {
		t.Fatalf("a public note is published on creation: %v, %+v", err, pub)
	}
}
