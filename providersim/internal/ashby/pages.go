package ashby

import (
	"sort"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// maxLimit is both the default and the largest page; a larger limit is
// capped, not refused.
const maxLimit = 100

// pageIn are the pagination fields of a list request.
type pageIn struct {
	Cursor    *string `json:"cursor"`
	SyncToken *string `json:"syncToken"`
	Limit     *int    `json:"limit"`
}

// cursorState is what a nextCursor stands for: the round it belongs to
// (changes in (since, high]) and where the last page ended. The filter of
// the first page comes along, so the next pages may send the cursor alone.
type cursorState struct {
	orgID, endpoint string
	since, high     int64
	after           int64
	filter          any
	issued          time.Time
	expired         bool
}

// syncState is what a syncToken stands for: the change sequence number the
// next incremental round starts after.
type syncState struct {
	orgID, endpoint string
	seq             int64
	issued          time.Time
	expired         bool
	invalid         bool
}

// pageItem is one listed record.
type pageItem struct {
	ord, seq int64
	render   func() any
}

// paginate serves one page of a list endpoint. filter is the decoded request
// filter; collect returns every record that matches a filter, in any order.
// With syncable, the last page carries a syncToken and syncToken starts an
// incremental round of the records changed since. A cursor's pages are
// collected with the filter of its first page, kept as an F in the cursor.
func paginate[F any](s *Service, req *request, p pageIn, filter F, syncable bool, collect func(filter F) []pageItem) (any, *apiError) {
	limit := maxLimit
	if p.Limit != nil {
		if *p.Limit < 1 {
			return nil, invalid("limit must be at least 1.")
		}
		limit = min(*p.Limit, maxLimit)
	}
	set := s.Settings()
	var st cursorState
	flt := filter
	switch {
	case p.Cursor != nil && *p.Cursor != "":
		c := s.w.cursors[*p.Cursor]
		if c == nil || c.orgID != req.org.id || c.endpoint != req.endpoint {
			return nil, fail("invalid_next_cursor", "The cursor could not be decoded. Start the listing again without a cursor.")
		}
		if c.expired || req.now.Sub(c.issued) > seconds(set.CursorTTLSeconds) {
			return nil, fail("next_cursor_expired", "The cursor has expired. Start the listing again without a cursor.")
		}
		// The endpoint matched, so the kept filter is this endpoint's F; a
		// cursor that disagrees is one this listing cannot continue.
		f, ok := c.filter.(F)
		if !ok {
			return nil, fail("invalid_next_cursor", "The cursor could not be decoded. Start the listing again without a cursor.")
		}
		st, flt = *c, f
	case p.SyncToken != nil && *p.SyncToken != "":
		if !syncable {
			return nil, invalid("syncToken is not supported by %s.", req.endpoint)
		}
		t := s.w.syncTokens[*p.SyncToken]
		if t == nil || t.invalid || t.orgID != req.org.id || t.endpoint != req.endpoint {
			return nil, fail("sync_token_invalid", "The sync token is invalid. Discard it and run a full sync without a syncToken.")
		}
		if t.expired || req.now.Sub(t.issued) > seconds(set.SyncTokenTTLSeconds) {
			return nil, fail("sync_token_expired", "The sync token has expired. Discard it and run a full sync without a syncToken.")
		}
		st = cursorState{orgID: req.org.id, endpoint: req.endpoint, since: t.seq, high: s.w.seq, filter: filter}
		changed := 0
		for _, it := range collect(filter) {
			if it.seq > st.since && it.seq <= st.high {
				changed++
			}
		}
		pages := (changed + limit - 1) / limit
		if s.takeTooLarge(req.endpoint) || pages > set.MaxIncrementalPages {
			return nil, fail("incremental_sync_too_large", "The incremental sync is too large. Discard the sync token and run a full sync without a syncToken.")
		}
	default:
		st = cursorState{orgID: req.org.id, endpoint: req.endpoint, since: -1, high: s.w.seq, filter: filter}
	}
	var items []pageItem
	for _, it := range collect(flt) {
		if it.seq > st.since && it.seq <= st.high && it.ord > st.after {
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ord < items[j].ord })
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	results := make([]any, 0, len(items))
	for _, it := range items {
		results = append(results, it.render())
	}
	out := object{"success": true, "results": results, "moreDataAvailable": more}
	if more {
		s.pruneCursors(req, set)
		next := st
		next.after, next.issued, next.expired = items[len(items)-1].ord, req.now, false
		tok := s.ids.Token("ashby-cursor", 24)
		s.w.cursors[tok] = &next
		out["nextCursor"] = tok
	} else if syncable {
		tok := s.ids.Token("ashby-sync", 24)
		s.w.syncTokens[tok] = &syncState{orgID: req.org.id, endpoint: req.endpoint, seq: st.high, issued: req.now}
		out["syncToken"] = tok
	}
	s.counters.Inc("ashby.pages", "ashby.pages/"+req.endpoint)
	return out, nil
}

// maxCursors bounds the cursors kept; past it, those older than their TTL
// are forgotten (they would answer next_cursor_expired anyway, and now
// answer invalid_next_cursor).
const maxCursors = 50_000

func (s *Service) pruneCursors(req *request, set simclient.AshbySettings) {
	if len(s.w.cursors) < maxCursors {
		return
	}
	for k, c := range s.w.cursors {
		if c.expired || req.now.Sub(c.issued) > seconds(set.CursorTTLSeconds) {
			delete(s.w.cursors, k)
		}
	}
}

func (s *Service) takeTooLarge(endpoint string) bool {
	for _, k := range []string{endpoint, ""} {
		if n := s.w.tooLarge[k]; n > 0 {
			if n == 1 {
				delete(s.w.tooLarge, k)
			} else {
				s.w.tooLarge[k] = n - 1
			}
			return true
		}
	}
	return false
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// plainPage serves a paginated endpoint without sync (listNotes,
// listHistory).
func (s *Service) plainPage(req *request, p pageIn, filter any, collect func(filter any) []pageItem) (any, *apiError) {
	return paginate(s, req, p, filter, false, collect)
}

// createdAfter reads an epoch-milliseconds bound.
func createdAfter(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms)
}
