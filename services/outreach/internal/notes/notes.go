// Package notes holds the rules of notes on candidates: public or private
// (a private note is seen by its author and admins only, and never leaves
// Tandem), plain text with simple formatting, changed and deleted by their
// author or an admin. Changes of public notes are published
// (note.created, note.updated, note.deleted) in their transaction.
package notes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// MaxBodyLen is the longest body, in characters.
const MaxBodyLen = 10000

// Types of the events a note's changes publish.
const (
	EventCreated = "note.created"
	EventUpdated = "note.updated"
	EventDeleted = "note.deleted"
)

// Store is what the package needs of the store.
type Store interface {
	CreateNote(ctx context.Context, orgID, candidateID string, n store.Note, publish store.PublishNote) (store.Note, error)
	Notes(ctx context.Context, orgID, candidateID string, v store.Viewer) ([]store.Note, error)
	UpdateNote(ctx context.Context, orgID, id string, change func(store.Note) (store.Note, error), publish store.PublishNote) (store.Note, error)
	DeleteNote(ctx context.Context, orgID, id string, allow func(store.Note) error, publish store.PublishNote) error
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Notes runs the rules over the store.
type Notes struct {
	store Store
	pub   Publisher
	now   func() time.Time
}

// New returns the rules over st, publishing with pub; now is the clock
// (time.Now when nil).
func New(st Store, pub Publisher, now func() time.Time) *Notes {
	if now == nil {
		now = time.Now
	}
	return &Notes{store: st, pub: pub, now: now}
}

// publish is the store's callback: what a change tells other services, in
// its transaction. A private note never leaves Tandem (DESIGN §8: "never
// private notes"), so its creation, edits and deletion publish nothing;
// publishing everything with a private flag would trust every receiver to
// drop them. The one exception is a public note made private: the
// receivers had it, so note.updated goes out once with private set and
// without the body, for them to retract it. A private note made public is
// note.updated too, with its body; a receiver that never had it creates it.
func (ns *Notes) publish(ctx context.Context, tx pgx.Tx, c store.NoteChange) error {
	before, after := c.Before, c.After
	switch {
	case before == nil && after != nil && !after.Private:
		return ns.send(ctx, tx, EventCreated, *after, 0)
	case before != nil && after != nil && (!before.Private || !after.Private):
		// Edits are ordered by the note's update time, in microseconds
		// (Postgres' precision): it grows with each committed change.
		return ns.send(ctx, tx, EventUpdated, *after, after.UpdatedAt.UnixMicro())
	case before != nil && after == nil && !before.Private:
		return ns.send(ctx, tx, EventDeleted, *before, 0)
	}
	return nil
}

func (ns *Notes) send(ctx context.Context, tx pgx.Tx, typ string, n store.Note, version int64) error {
	payload := &outreachv1.NoteChanged{NoteId: n.ID, CandidateId: n.CandidateID, AuthorUserId: n.AuthorUserID, Private: n.Private,
		CreateTime: timestamppb.New(n.CreatedAt), UpdateTime: timestamppb.New(n.UpdatedAt)}
	if !n.Private && typ != EventDeleted {
		payload.Body = n.Body
	}
	_, err := ns.pub.Publish(ctx, tx, events.Event{Type: typ, OrganizationID: n.OrgID, AggregateID: n.ID, Version: version,
		OccurredAt: ns.now(), Payload: payload})
	return err
}

// errNotTheAuthor refuses a change of someone else's public note.
var errNotTheAuthor = apperr.PermissionDenied("only the note's author or an admin may change it")

func viewer(p authz.Principal) store.Viewer {
	return store.Viewer{UserID: p.UserID, Admin: p.Role.AtLeast(authz.RoleAdmin)}
}

// mayChange says whether p may change n. A private note of someone else is
// not found, as it is to any reader who may not see it.
func mayChange(p authz.Principal, n store.Note) error {
	v := viewer(p)
	switch {
	case v.Admin || (n.AuthorUserID != "" && n.AuthorUserID == p.UserID):
		return nil
	case n.Private:
		return postgres.ErrNotFound
	}
	return errNotTheAuthor
}

// CheckBody checks a note's body: valid UTF-8, 1 to MaxBodyLen characters,
// line breaks and tabs allowed (the simple formatting), no other control
// characters and no bidirectional overrides. It returns it trimmed.
func CheckBody(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", apperr.InvalidArgument(field, "must be valid UTF-8")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return "", apperr.InvalidArgument(field, fmt.Sprintf("must not contain control characters (found %U)", r))
		}
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxBodyLen {
		return "", apperr.InvalidArgument(field, fmt.Sprintf("must be 1 to %d characters", MaxBodyLen))
	}
	return s, nil
}

// Create adds the caller's note to a candidate.
func (ns *Notes) Create(ctx context.Context, caller authz.Principal, candidateID, body string, private bool) (store.Note, error) {
	body, err := CheckBody("note.body", body)
	if err != nil {
		return store.Note{}, err
	}
	n, err := ns.store.CreateNote(ctx, caller.OrgID, candidateID, store.Note{AuthorUserID: caller.UserID, Body: body, Private: private}, ns.publish)
	if errors.Is(err, store.ErrNotLive) {
		return store.Note{}, apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted or merged").Wrap(err)
	}
	return n, err
}

// List returns the candidate's notes the caller may see.
func (ns *Notes) List(ctx context.Context, caller authz.Principal, candidateID string) ([]store.Note, error) {
	return ns.store.Notes(ctx, caller.OrgID, candidateID, viewer(caller))
}

// Update is a change of a note: the fields named, "body" and "visibility".
type Update struct {
	Paths   []string
	Body    string
	Private bool
}

// Update changes a note of the caller (or any note, for an admin).
func (ns *Notes) Update(ctx context.Context, caller authz.Principal, id string, u Update) (store.Note, error) {
	if len(u.Paths) == 0 {
		return store.Note{}, apperr.InvalidArgument("update_mask", `is required: "body", "visibility" or both`)
	}
	for _, p := range u.Paths {
		if p != "body" && p != "visibility" {
			return store.Note{}, apperr.InvalidArgument("update_mask", fmt.Sprintf(`%q cannot be changed; the fields are body and visibility`, p))
		}
	}
	setBody, setVisibility := slices.Contains(u.Paths, "body"), slices.Contains(u.Paths, "visibility")
	if setBody {
		var err error
		if u.Body, err = CheckBody("note.body", u.Body); err != nil {
			return store.Note{}, err
		}
	}
	return ns.store.UpdateNote(ctx, caller.OrgID, id, func(cur store.Note) (store.Note, error) {
		if err := mayChange(caller, cur); err != nil {
			return store.Note{}, err
		}
		if setBody {
			cur.Body = u.Body
		}
		if setVisibility {
			cur.Private = u.Private
		}
		return cur, nil
	}, ns.publish)
}

// Delete deletes a note of the caller (or any note, for an admin).
func (ns *Notes) Delete(ctx context.Context, caller authz.Principal, id string) error {
	return ns.store.DeleteNote(ctx, caller.OrgID, id, func(cur store.Note) error { return mayChange(caller, cur) }, ns.publish)
}
