// Package timeline reads a candidate's timeline: one ordered list of
// everything that happened to it, a page at a time, filtered by kind.
// Entries are written by the packages that make the changes, in the same
// transaction (the store's addEntry); the ATS sync's decisions about the
// candidate are atsbridge's, read from its sync audit log and merged in
// time order (ADR 0027).
package timeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// KindATSSync is a decision of the ATS sync: atsbridge's, never stored
// here.
const KindATSSync = "ats_sync"

// SyncAuditTimeout bounds the wait for atsbridge: past it the page is
// served without the decisions, and says so.
const SyncAuditTimeout = 2 * time.Second

// Kinds are the entry kinds there are.
var Kinds = []string{store.KindCreated, store.KindMerged, store.KindStageChanged, store.KindNote,
	store.KindReferralCreated, store.KindMessageSent, store.KindMessageReceived, store.KindFileAdded, store.KindFileDeleted, KindATSSync}

// Store is what the package needs of the store.
type Store interface {
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	MergedCandidateIDs(ctx context.Context, orgID, survivorID string) ([]string, error)
	Timeline(ctx context.Context, orgID, candidateID string, v store.Viewer, kinds []string, after string, limit int) ([]store.Entry, error)
}

// SyncAudit is atsbridge's internal read of the decisions about
// candidates, in time order after a position.
type SyncAudit interface {
	ListCandidateSyncAudit(ctx context.Context, in *atsbridgev1.ListCandidateSyncAuditRequest, opts ...grpc.CallOption) (*atsbridgev1.ListCandidateSyncAuditResponse, error)
}

// Timeline reads timelines.
type Timeline struct {
	store Store
	sync  SyncAudit
	log   *slog.Logger
}

// New returns the reader over st, merging the decisions sync reads (none
// when sync is nil).
func New(st Store, sync SyncAudit, log *slog.Logger) *Timeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Timeline{store: st, sync: sync, log: log}
}

// Query is one page of a candidate's timeline.
type Query struct {
	CandidateID string
	Kinds       []string
	PageSize    int
	PageToken   string
}

// Entry is one entry of a page: one of the store's, or, with Kind
// KindATSSync, one of atsbridge's decisions in Sync.
type Entry struct {
	store.Entry
	Sync *atsbridgev1.SyncAuditEntry
}

// Page is a page of entries; NextPageToken is empty on the last one.
// SyncUnavailable says atsbridge did not answer: the page holds no
// decisions, and the pages after it go on without those it missed.
type Page struct {
	Entries         []Entry
	NextPageToken   string
	SyncUnavailable bool
}

// pageToken is where a page ended in each source, bound to its query:
// the last entry of the store's, and the position of the last decision
// of atsbridge's it held. Each source reads on after its own position,
// so the merge never repeats or drops an entry across pages.
type pageToken struct {
	CandidateID string   `json:"c"`
	Kinds       []string `json:"k"`
	After       string   `json:"a"`
	Sync        syncPos  `json:"s,omitzero"`
}

// syncPos is a place in atsbridge's time order (occurred at, then id).
type syncPos struct {
	At time.Time `json:"t"`
	ID int64     `json:"i"`
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
	var tok pageToken
	if q.PageToken != "" {
		tok, err = paging.Decode[pageToken](q.PageToken)
		if err != nil || tok.CandidateID != c.ID || !slices.Equal(tok.Kinds, q.Kinds) {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this timeline")
		}
	}
	storeKinds, withStore, withSync := split(q.Kinds)
	var entries []store.Entry
	if withStore {
		viewer := store.Viewer{UserID: caller.UserID, Admin: caller.Role.AtLeast(authz.RoleAdmin)}
		entries, err = t.store.Timeline(ctx, orgID, c.ID, viewer, storeKinds, tok.After, size+1)
		if errors.Is(err, postgres.ErrNotFound) {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this timeline")
		}
		if err != nil {
			return Page{}, err
		}
	}
	var decisions []*atsbridgev1.SyncAuditEntry
	unavailable := false
	if withSync && t.sync != nil {
		if decisions, err = t.decisions(ctx, orgID, c.ID, tok.Sync, size+1); err != nil {
			if !errors.Is(err, errSyncUnavailable) {
				return Page{}, err
			}
			unavailable, decisions = true, nil
		}
	}
	page := merge(entries, decisions, size)
	page.SyncUnavailable = unavailable
	if len(page.Entries) <= size {
		return page, nil
	}
	page.Entries = page.Entries[:size]
	next := pageToken{CandidateID: c.ID, Kinds: q.Kinds, After: tok.After, Sync: tok.Sync}
	for _, e := range page.Entries {
		if e.Sync != nil {
			next.Sync = syncPos{At: e.OccurredAt, ID: e.Sync.GetId()}
		} else {
			next.After = e.ID
		}
	}
	if unavailable {
		// The decisions up to this page's end are skipped rather than
		// shown out of order on a later page; the page said so.
		next.Sync = syncPos{At: page.Entries[size-1].OccurredAt, ID: -1}
	}
	if page.NextPageToken, err = paging.Encode(next); err != nil {
		return Page{}, err
	}
	return page, nil
}

// split tells which sources a filter reads, and the store's kinds (none:
// every kind).
func split(kinds []string) (storeKinds []string, withStore, withSync bool) {
	if len(kinds) == 0 {
		return nil, true, true
	}
	for _, k := range kinds {
		if k == KindATSSync {
			withSync = true
			continue
		}
		storeKinds = append(storeKinds, k)
	}
	return storeKinds, len(storeKinds) > 0, withSync
}

// errSyncUnavailable is atsbridge not answering (or failing) the read.
var errSyncUnavailable = errors.New("timeline: the sync audit is unavailable")

// decisions reads up to limit of atsbridge's decisions about the
// candidate and those merged into it, after pos.
func (t *Timeline) decisions(ctx context.Context, orgID, candidateID string, pos syncPos, limit int) ([]*atsbridgev1.SyncAuditEntry, error) {
	merged, err := t.store.MergedCandidateIDs(ctx, orgID, candidateID)
	if err != nil {
		return nil, err
	}
	// atsbridge reads at most 100 candidates; a survivor of more merges
	// shows the decisions of the first 99 only.
	merged = merged[:min(len(merged), 99)]
	req := &atsbridgev1.ListCandidateSyncAuditRequest{OrganizationId: orgID, CandidateIds: append([]string{candidateID}, merged...),
		PageSize: int32(limit)} //nolint:gosec // at most MaxPageSize+1
	if !pos.At.IsZero() {
		req.AfterTime, req.AfterId = timestamppb.New(pos.At), pos.ID
	}
	ctx, cancel := context.WithTimeout(ctx, SyncAuditTimeout)
	defer cancel()
	resp, err := t.sync.ListCandidateSyncAudit(ctx, req)
	if err != nil {
		t.log.WarnContext(ctx, "timeline without the sync audit: atsbridge did not answer", "candidate_id", candidateID, "error", err)
		return nil, errSyncUnavailable
	}
	return resp.GetEntries(), nil
}

// merge takes up to size+1 entries of the two lists, each in time order,
// in time order; at the same time the store's entry goes first.
func merge(entries []store.Entry, decisions []*atsbridgev1.SyncAuditEntry, size int) Page {
	out := make([]Entry, 0, min(size+1, len(entries)+len(decisions)))
	i, j := 0, 0
	for len(out) <= size && (i < len(entries) || j < len(decisions)) {
		if j >= len(decisions) || (i < len(entries) && !decisions[j].GetOccurTime().AsTime().Before(entries[i].OccurredAt)) {
			out = append(out, Entry{Entry: entries[i]})
			i++
			continue
		}
		out = append(out, decisionEntry(decisions[j]))
		j++
	}
	return Page{Entries: out}
}

// decisionEntry is a decision as an entry of the timeline; its id names
// the audit log's row.
func decisionEntry(d *atsbridgev1.SyncAuditEntry) Entry {
	return Entry{Entry: store.Entry{ID: "ats-sync-" + strconv.FormatInt(d.GetId(), 10), CandidateID: d.GetCandidateId(), Kind: KindATSSync,
		ActorUserID: d.GetActorUserId(), OccurredAt: d.GetOccurTime().AsTime()}, Sync: d}
}
