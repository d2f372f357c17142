package graph

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Delta query per folder. Each response hands out a fresh opaque token that
// names server-side state: a skip token holds what is left of the current
// round, a delta token holds the folder's change-log position where the next
// round starts. The control API can make tokens expire.

type deltaEntry struct {
	key     string
	restID  string
	removed bool
}

type deltaState struct {
	mailboxID     string
	folderID      string
	sel           selection
	changeType    string
	entries       []deltaEntry
	watermark     int64
	expired       string
	expiredStatus int
}

func (s *Service) delta(req *request) *graphError {
	q := req.r.URL.Query()
	pageSize := req.pageSize
	if pageSize <= 0 {
		pageSize = s.Limits().DefaultPageSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	f := mb.folder(req.route.folder)
	if f == nil {
		return errNotFound()
	}
	var (
		entries    []deltaEntry
		watermark  int64
		sel        selection
		changeType string
	)
	switch {
	case q.Get("$skiptoken") != "":
		prev, e := s.deltaStateLocked(req, q.Get("$skiptoken"), mb, f)
		if e != nil {
			return e
		}
		entries, watermark, sel, changeType = prev.entries, prev.watermark, prev.sel, prev.changeType
	case q.Get("$deltatoken") != "":
		prev, e := s.deltaStateLocked(req, q.Get("$deltatoken"), mb, f)
		if e != nil {
			return e
		}
		sel, changeType = prev.sel, prev.changeType
		entries, watermark = changesSince(f, prev.watermark, changeType), f.seq
	default:
		var e *graphError
		if sel, e = parseSelect(q.Get("$select")); e != nil {
			return e
		}
		changeType = q.Get("changeType")
		for _, ct := range strings.Split(changeType, ",") {
			if ct != "" && ct != "created" && ct != "updated" && ct != "deleted" {
				return badRequest("ErrorInvalidUrlQuery", "changeType must be created, updated or deleted.")
			}
		}
		flt, e := parseFilter(q.Get("$filter"))
		if e != nil {
			return e
		}
		for _, c := range flt {
			if c.field != "receivedDateTime" {
				return badRequest("ErrorInvalidUrlQueryFilter", "Delta queries on messages support $filter on receivedDateTime only.")
			}
		}
		entries, watermark = snapshot(f, flt, changeType), f.seq
	}
	n := min(pageSize, len(entries))
	page, rest := entries[:n], entries[n:]
	next := &deltaState{mailboxID: mb.person.ID, folderID: f.id, sel: sel, changeType: changeType, watermark: watermark}
	token := s.ids.Token("delta", 48)
	s.deltas[token] = next
	link := s.base + req.route.prefix + "/mailFolders('" + url.PathEscape(req.route.folder) + "')/messages/delta?"
	linkKey := "@odata.deltaLink"
	if len(rest) > 0 {
		next.entries = rest
		linkKey, link = "@odata.nextLink", link+"$skiptoken="+token
	} else {
		link += "$deltatoken=" + token
	}
	basic := readBasicOnly(req)
	value := make([]obj, 0, len(page))
	for _, e := range page {
		m := f.items[e.key]
		if e.removed || m == nil {
			id := e.restID
			if req.immutable {
				id = e.key
			}
			value = append(value, obj{
				{"@odata.type", "#microsoft.graph.message"}, {"id", id},
				{"@removed", obj{{"reason", "deleted"}}},
			})
			continue
		}
		value = append(value, append(obj{{"@odata.type", "#microsoft.graph.message"}}, s.renderMessage(m, sel, req.immutable, basic)...))
	}
	s.counters.Inc("graph.delta.pages")
	simcore.WriteJSON(req.w, http.StatusOK, obj{
		{"@odata.context", s.base + "/v1.0/$metadata#Collection(message)"},
		{linkKey, link},
		{"value", value},
	})
	return nil
}

// deltaStateLocked finds the state a token names, or answers as Graph does
// for a token it no longer knows.
func (s *Service) deltaStateLocked(req *request, token string, mb *mailbox, f *folder) (*deltaState, *graphError) {
	st := s.deltas[token]
	notFound := gerr(http.StatusBadRequest, "syncStateNotFound", "The sync state was not found or has expired. Please retry without the state token to start a full synchronization.")
	if st == nil || st.mailboxID != mb.person.ID || st.folderID != f.id {
		return nil, notFound
	}
	switch st.expired {
	case simclient.DeltaGone:
		req.w.Header().Set("Location", s.base+req.route.prefix+"/mailFolders('"+url.PathEscape(req.route.folder)+"')/messages/delta?$deltatoken=")
		return nil, gerr(http.StatusGone, "resyncRequired", "Resync required. Replace any local cached data with a full synchronization.")
	case simclient.DeltaSyncStateNotFound:
		notFound.status = st.expiredStatus
		return nil, notFound
	}
	return st, nil
}

func allows(changeType, kind string) bool {
	if changeType == "" {
		return true
	}
	for _, ct := range strings.Split(changeType, ",") {
		if ct == kind {
			return true
		}
	}
	return false
}

// snapshot lists a folder's messages for the first round, newest first.
func snapshot(f *folder, flt filter, changeType string) []deltaEntry {
	if !allows(changeType, "created") {
		return nil
	}
	var list []*message
	for _, m := range f.items {
		if flt.match(m) {
			list = append(list, m)
		}
	}
	sortMessages(list, true)
	out := make([]deltaEntry, len(list))
	for i, m := range list {
		out[i] = deltaEntry{key: m.key, restID: m.restID}
	}
	return out
}

// changesSince lists what changed in a folder after a change-log position:
// messages added or updated since, and messages that left it.
func changesSince(f *folder, watermark int64, changeType string) []deltaEntry {
	start := sort.Search(len(f.log), func(i int) bool { return f.log[i].seq > watermark })
	type agg struct {
		addedAfter bool
		restID     string
	}
	seen := map[string]*agg{}
	var order []string
	for _, c := range f.log[start:] {
		a := seen[c.key]
		if a == nil {
			a = &agg{}
			seen[c.key] = a
			order = append(order, c.key)
		}
		if c.kind == changeAdded {
			a.addedAfter = true
		}
		a.restID = c.restID
	}
	var out []deltaEntry
	for _, key := range order {
		a := seen[key]
		if m := f.items[key]; m != nil {
			kind := "updated"
			if a.addedAfter {
				kind = "created"
			}
			if allows(changeType, kind) {
				out = append(out, deltaEntry{key: key, restID: m.restID})
			}
			continue
		}
		if !a.addedAfter && allows(changeType, "deleted") {
			out = append(out, deltaEntry{key: key, restID: a.restID, removed: true})
		}
	}
	return out
}

// ExpireDelta makes delta and skip tokens unusable, as Graph's cache would.
func (s *Service) ExpireDelta(x simclient.DeltaExpiry) (int, error) {
	if x.Mode == "" {
		x.Mode = simclient.DeltaSyncStateNotFound
	}
	if x.Mode != simclient.DeltaSyncStateNotFound && x.Mode != simclient.DeltaGone {
		return 0, fmt.Errorf("%w: mode must be %q or %q", simcore.ErrInvalid, simclient.DeltaSyncStateNotFound, simclient.DeltaGone)
	}
	if x.Status == 0 {
		x.Status = http.StatusBadRequest
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var only *mailbox
	if x.Mailbox != "" {
		mb, ok := s.mailboxByAddressLocked(x.Mailbox)
		if !ok {
			return 0, fmt.Errorf("%w: mailbox %s", simcore.ErrNotFound, x.Mailbox)
		}
		only = mb
	}
	n := 0
	for _, st := range s.deltas {
		mb := s.mailboxes[st.mailboxID]
		if only != nil && mb != only {
			continue
		}
		if x.Folder != "" {
			if f := mb.folder(x.Folder); f == nil || f.id != st.folderID {
				continue
			}
		}
		if st.expired == "" {
			n++
		}
		st.expired, st.expiredStatus = x.Mode, x.Status
	}
	return n, nil
}
