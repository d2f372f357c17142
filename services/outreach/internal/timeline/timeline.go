// Package timeline reads a candidate's timeline: one ordered list of
// everything that happened to it, a page at a time, filtered by kind.
// Entries are written by the packages that make the changes, in the same
// transaction (the store's addEntry).
package timeline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Kinds are the entry kinds there are.
var Kinds = []string{store.KindCreated, store.KindMerged, store.KindStageChanged, store.KindNote,
	store.KindReferralCreated, store.KindMessageSent, store.KindMessageReceived, store.KindFileAdded, store.KindFileDeleted}

// Store is what the package needs of the store.
type Store interface {
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	Timeline(ctx context.Context, orgID, candidateID string, v store.Viewer, kinds []string, after string, limit int) ([]store.Entry, error)
}

// Timeline reads timelines.
type Timeline struct{ store Store }

// New returns the reader over st.
func New(st Store) *Timeline { return &Timeline{store: st} }

// Query is one page of a candidate's timeline.
type Query struct {
	CandidateID string
	Kinds       []string
	PageSize    int
	PageToken   string
}

// Page is a page of entries; NextPageToken is empty on the last one.
type Page struct {
	Entries       []store.Entry
	NextPageToken string
}

// pageToken is the last entry of a page, bound to its query.
type pageToken struct {
	CandidateID string   `json:"c"`
	Kinds       []string `json:"k"`
	After       string   `json:"a"`
}

// List returns a page of the timeline of a candidate of the caller's
// organization (a merged candidate's id reads its survivor's), without the
// private notes of others unless the caller is an admin.
func (t *Timeline) List(ctx context.Context, caller authz.Principal, q Query) (Page, error) {
	orgID := caller.OrgID
	for i, k := range q.Kinds {
		if !slices.Contains(Kinds, k) {
			return Page{}, apperr.InvalidArgument(fmt.Sprintf("kinds[%d]", i), "is not a kind of entry")
		}
	}
	size, err := paging.Size(q.PageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	c, err := t.store.Candidate(ctx, orgID, q.CandidateID)
	if err != nil {
		return Page{}, err
	}
	after := ""
	if q.PageToken != "" {
		tok, err := paging.Decode[pageToken](q.PageToken)
		if err != nil || tok.CandidateID != c.ID || !slices.Equal(tok.Kinds, q.Kinds) {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this timeline")
		}
		after = tok.After
	}
	viewer := store.Viewer{UserID: caller.UserID, Admin: caller.Role.AtLeast(authz.RoleAdmin)}
	entries, err := t.store.Timeline(ctx, orgID, c.ID, viewer, q.Kinds, after, size+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return Page{}, apperr.InvalidArgument("page_token", "is not a token of this timeline")
	}
	if err != nil {
		return Page{}, err
	}
	page := Page{Entries: entries}
	if len(entries) > size {
		page.Entries = entries[:size]
		if page.NextPageToken, err = paging.Encode(pageToken{CandidateID: c.ID, Kinds: q.Kinds, After: page.Entries[size-1].ID}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}
