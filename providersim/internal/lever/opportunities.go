package lever

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tandemhq/tandem/providersim/simclient"
)

type phone struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// createInput is the body of POST /opportunities.
type createInput struct {
	Name      string   `json:"name"`
	Headline  string   `json:"headline"`
	Stage     string   `json:"stage"`
	Location  string   `json:"location"`
	Phones    []phone  `json:"phones"`
	Emails    []string `json:"emails"`
	Links     []string `json:"links"`
	Tags      []string `json:"tags"`
	Sources   []string `json:"sources"`
	Origin    string   `json:"origin"`
	Owner     string   `json:"owner"`
	Followers []string `json:"followers"`
	Postings  []string `json:"postings"`
	CreatedAt *int64   `json:"createdAt"`
	Archived  *struct {
		ArchivedAt *int64 `json:"archivedAt"`
		Reason     string `json:"reason"`
	} `json:"archived"`
	Contact string `json:"contact"`
}

// event is a webhook event waiting to go out once the call is answered.
type event struct {
	accountID, name, origin string
	data                    map[string]any
}

func (s *Service) record(o *opportunity, action, userID, via string, at int64) {
	o.rec.History = append(o.rec.History, simclient.LeverHistoryEntry{Action: action, UserID: userID, Via: via, At: at})
	o.rec.UpdatedAt = at
}

func addUnique(list []string, items ...string) []string {
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" && !slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, it) }) {
			list = append(list, it)
		}
	}
	return list
}

func removeAll(list []string, items ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool {
		return slices.ContainsFunc(items, func(it string) bool { return strings.EqualFold(x, strings.TrimSpace(it)) })
	})
}

// createOpportunityLocked validates and stores a new opportunity created by
// performer. Its events are those Lever fires for a new candidate.
func (s *Service) createOpportunityLocked(a *account, performer *user, in createInput, via string) (*opportunity, []event, error) {
	if len(in.Postings) > 1 {
		return nil, nil, invalid("Only one posting may be specified per request")
	}
	var post *posting
	if len(in.Postings) == 1 {
		if post = a.posting(in.Postings[0]); post == nil || post.ID != in.Postings[0] {
			return nil, nil, invalid("Invalid posting: %s", in.Postings[0])
		}
	}
	if in.Origin == "" {
		in.Origin = "sourced"
	}
	if !slices.Contains(origins, in.Origin) {
		return nil, nil, invalid("Invalid origin: must be one of %s", strings.Join(origins, ", "))
	}
	stageID := in.Stage
	if stageID == "" {
		if _, ok := a.stage("lead-new"); ok {
			stageID = "lead-new"
		} else {
			stageID = a.stages[0].ID
		}
	}
	if st, ok := a.stage(stageID); !ok || st.ID != stageID {
		return nil, nil, invalid("Invalid stage: %s", stageID)
	}
	owner := performer
	if in.Owner != "" {
		if owner = a.userRef(in.Owner); owner == nil || owner.ID != in.Owner {
			return nil, nil, invalid("Invalid owner: %s", in.Owner)
		}
	}
	followers := []string{}
	for _, f := range in.Followers {
		if u := a.userRef(f); u == nil || u.ID != f {
			return nil, nil, invalid("Invalid follower: %s", f)
		}
		followers = addUnique(followers, f)
	}
	if len(followers) == 0 {
		followers = []string{owner.ID}
	}
	for _, e := range in.Emails {
		if !strings.Contains(e, "@") {
			return nil, nil, invalid("Invalid email address: %s", e)
		}
	}
	archiveReason := ""
	if in.Archived != nil && in.Archived.Reason != "" {
		r, ok := a.reason(in.Archived.Reason)
		if !ok || r.ID != in.Archived.Reason {
			return nil, nil, invalid("Invalid archive reason: %s", in.Archived.Reason)
		}
		archiveReason = r.ID
	}
	var ct *contact
	if in.Contact != "" {
		if ct = a.contacts[in.Contact]; ct == nil {
			return nil, nil, invalid("Invalid contact: %s", in.Contact)
		}
		if in.Name == "" {
			for _, o := range a.opps {
				if o.rec.ContactID == ct.id {
					in.Name = o.rec.Name // the contact's name, from its first opportunity
					break
				}
			}
		}
	} else {
		ct = a.contactFor(in.Emails)
	}
	if strings.TrimSpace(in.Name) == "" {
		return nil, nil, invalid("Missing required field: name")
	}
	now := s.nowMs()
	created := now
	if in.CreatedAt != nil {
		created = *in.CreatedAt
	}
	var events []event
	newContact := ct == nil
	if newContact {
		ct = &contact{id: s.ids.GUID("lever-contact")}
		a.contacts[ct.id] = ct
	}
	ct.emails = addUnique(ct.emails, in.Emails...)
	for _, e := range in.Emails {
		if a.byEmail[strings.ToLower(e)] == nil {
			a.byEmail[strings.ToLower(e)] = ct
		}
	}
	o := &opportunity{blobs: map[string][]byte{}}
	o.rec = simclient.LeverOpportunity{
		ID: s.ids.GUID("lever-opportunity"), AccountID: a.id, ContactID: ct.id,
		Name: strings.TrimSpace(in.Name), Headline: in.Headline, Location: in.Location,
		Emails: addUnique(nil, in.Emails...), Phones: []string{}, Links: addUnique([]string{}, in.Links...),
		Tags: addUnique([]string{}, in.Tags...), Sources: addUnique([]string{}, in.Sources...),
		Origin: in.Origin, StageID: stageID, PostingIDs: []string{}, ApplicationIDs: []string{},
		OwnerID: owner.ID, FollowerIDs: followers, PerformAs: performer.ID, CreatedVia: via,
		CreatedAt: created, UpdatedAt: now, StageChanges: []simclient.LeverStageChange{{ToStageID: stageID, UserID: performer.ID, UpdatedAt: created}},
		Notes: []simclient.LeverNote{}, Files: []simclient.LeverFile{}, History: []simclient.LeverHistoryEntry{},
	}
	if o.rec.Emails == nil {
		o.rec.Emails = []string{}
	}
	for _, p := range in.Phones {
		if p.Value != "" {
			o.rec.Phones = append(o.rec.Phones, p.Value)
			o.phoneTypes = append(o.phoneTypes, p.Type)
		}
	}
	a.sources = addUnique(a.sources, in.Sources...)
	a.tags = addUnique(a.tags, in.Tags...)
	if archiveReason != "" {
		o.rec.ArchiveReasonID, o.rec.ArchivedAt = archiveReason, now
		if in.Archived.ArchivedAt != nil {
			o.rec.ArchivedAt = *in.Archived.ArchivedAt
		}
	}
	if post != nil {
		app := application{id: s.ids.GUID("lever-application"), postingID: post.ID, userID: performer.ID, typ: "user", createdAt: created}
		o.applications = append(o.applications, app)
		o.rec.PostingIDs = []string{post.ID}
		o.rec.ApplicationIDs = []string{app.id}
		events = append(events, event{accountID: a.id, name: simclient.LeverApplicationCreated, origin: o.rec.Origin, data: map[string]any{
			"candidateId": o.rec.ID, "opportunityId": o.rec.ID, "contactId": ct.id, "applicationId": app.id, "postingId": post.ID,
		}})
	}
	if newContact {
		events = append([]event{{accountID: a.id, name: simclient.LeverContactCreated, origin: o.rec.Origin, data: map[string]any{"contactId": ct.id}}}, events...)
	} else if len(in.Emails) > 0 {
		events = append(events, event{accountID: a.id, name: simclient.LeverContactUpdated, origin: o.rec.Origin, data: map[string]any{"contactId": ct.id}})
	}
	s.record(o, "created", performer.ID, via, now)
	a.opps = append(a.opps, o)
	s.opps[o.rec.ID] = o
	return o, events, nil
}

func (s *Service) createOpportunity(c *call) *apiError {
	var in createInput
	var resume *upload
	if strings.HasPrefix(c.r.Header.Get("Content-Type"), "multipart/form-data") {
		var e *apiError
		if in, resume, e = readMultipartCreate(c.r); e != nil {
			return e
		}
	} else if e := c.decode(&in); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	performer, e := c.performAs(true)
	if e != nil {
		return e
	}
	if v := c.r.URL.Query().Get("perform_as_posting_owner"); v == "true" && len(in.Postings) == 1 {
		if p := c.account.posting(in.Postings[0]); p != nil && p.ownerID != "" {
			performer = s.users[p.ownerID]
		}
	}
	o, events, err := s.createOpportunityLocked(c.account, performer, in, "api")
	if err != nil {
		return errorFrom(err)
	}
	if resume != nil {
		s.attachLocked(o, "resume", resume, performer.ID, "api")
	}
	c.events = events
	s.counters.Inc("lever.opportunities.created")
	return c.data(http.StatusCreated, s.renderOpportunity(c.account, o, c.r.URL.Query()["expand"]))
}

func (s *Service) getOpportunity(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.opportunity(s)
	if e != nil {
		return e
	}
	return c.data(http.StatusOK, s.renderOpportunity(c.account, o, c.r.URL.Query()["expand"]))
}

func (s *Service) listOpportunities(c *call) *apiError {
	q := c.r.URL.Query()
	ms := func(name string) (int64, bool, *apiError) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, badRequest("Invalid " + name + ": must be a timestamp in milliseconds")
		}
		return n, true, nil
	}
	type bound struct {
		name  string
		value int64
		set   bool
	}
	var bounds []bound
	for _, n := range []string{"created_at_start", "created_at_end", "updated_at_start", "updated_at_end", "archived_at_start", "archived_at_end"} {
		v, set, e := ms(n)
		if e != nil {
			return e
		}
		bounds = append(bounds, bound{n, v, set})
	}
	var archived *bool
	if v := q.Get("archived"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("Invalid archived: must be true or false")
		}
		archived = &b
	}
	anyOf := func(key string, match func(string) bool) bool {
		vals := q[key]
		return len(vals) == 0 || slices.ContainsFunc(vals, match)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*opportunity
	for _, o := range c.account.opps {
		r := &o.rec
		if r.Deleted {
			continue
		}
		ok := anyOf("email", func(v string) bool {
			return slices.ContainsFunc(r.Emails, func(e string) bool { return strings.EqualFold(e, v) })
		}) &&
			anyOf("tag", func(v string) bool {
				return slices.ContainsFunc(r.Tags, func(t string) bool { return strings.EqualFold(t, v) })
			}) &&
			anyOf("origin", func(v string) bool { return r.Origin == v }) &&
			anyOf("stage_id", func(v string) bool { return r.StageID == v }) &&
			anyOf("posting_id", func(v string) bool { return slices.Contains(r.PostingIDs, v) }) &&
			anyOf("contact_id", func(v string) bool { return r.ContactID == v }) &&
			anyOf("archive_reason_id", func(v string) bool { return r.ArchiveReasonID == v }) &&
			(archived == nil || *archived == (r.ArchivedAt != 0))
		for _, b := range bounds {
			if !b.set {
				continue
			}
			var t int64
			switch {
			case strings.HasPrefix(b.name, "created"):
				t = r.CreatedAt
			case strings.HasPrefix(b.name, "updated"):
				t = r.UpdatedAt
			default:
				t = r.ArchivedAt
			}
			if strings.HasSuffix(b.name, "_start") && t < b.value || strings.HasSuffix(b.name, "_end") && t > b.value {
				ok = false
			}
		}
		if ok {
			items = append(items, o)
		}
	}
	return renderPage(c, items, func(o *opportunity) any { return s.renderOpportunity(c.account, o, q["expand"]) })
}

// moveLocked moves an opportunity to a stage and returns the stage-change
// event (none when it is there already).
func (s *Service) moveLocked(a *account, o *opportunity, stageID, userID, via string) []event {
	from := o.rec.StageID
	if from == stageID {
		return nil
	}
	now := s.nowMs()
	o.rec.StageID = stageID
	o.rec.StageChanges = append(o.rec.StageChanges, simclient.LeverStageChange{ToStageID: stageID, UserID: userID, UpdatedAt: now})
	s.record(o, "stage", userID, via, now)
	return []event{{accountID: a.id, name: simclient.LeverCandidateStageChange, origin: o.rec.Origin, data: map[string]any{
		"opportunityId": o.rec.ID, "candidateId": o.rec.ID, "contactId": o.rec.ContactID, "fromStageId": from, "toStageId": stageID,
	}}}
}

func archivedState(o *opportunity) any {
	if o.rec.ArchivedAt == 0 {
		return nil
	}
	return map[string]any{"archivedAt": o.rec.ArchivedAt, "reason": o.rec.ArchiveReasonID}
}

// archiveLocked archives an opportunity (reason nil restores it). A hired
// reason fires candidateHired beside candidateArchiveChange.
func (s *Service) archiveLocked(a *account, o *opportunity, reason *simclient.LeverArchiveReason, userID, via string) []event {
	if reason == nil && o.rec.ArchivedAt == 0 || reason != nil && o.rec.ArchiveReasonID == reason.ID {
		return nil
	}
	from := archivedState(o)
	now := s.nowMs()
	if reason == nil {
		o.rec.ArchivedAt, o.rec.ArchiveReasonID = 0, ""
		s.record(o, "unarchived", userID, via, now)
	} else {
		o.rec.ArchivedAt, o.rec.ArchiveReasonID = now, reason.ID
		s.record(o, "archived", userID, via, now)
	}
	ids := map[string]any{"opportunityId": o.rec.ID, "candidateId": o.rec.ID, "contactId": o.rec.ContactID}
	data := map[string]any{"fromArchived": from, "toArchived": archivedState(o)}
	for k, v := range ids {
		data[k] = v
	}
	events := []event{{accountID: a.id, name: simclient.LeverCandidateArchiveChange, origin: o.rec.Origin, data: data}}
	if reason != nil && reason.Type == "hired" {
		events = append(events, event{accountID: a.id, name: simclient.LeverCandidateHired, origin: o.rec.Origin, data: ids})
	}
	return events
}

func (s *Service) changeStage(c *call) *apiError {
	var in struct {
		Stage string `json:"stage"`
	}
	if e := c.decode(&in); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.opportunity(s)
	if e != nil {
		return e
	}
	performer, e := c.performAs(false)
	if e != nil {
		return e
	}
	if in.Stage == "" {
		return badRequest("Missing required field: stage")
	}
	if st, ok := c.account.stage(in.Stage); !ok || st.ID != in.Stage {
		return badRequest("Invalid stage: " + in.Stage)
	}
	uid := ""
	if performer != nil {
		uid = performer.ID
	}
	c.events = s.moveLocked(c.account, o, in.Stage, uid, "api")
	return c.data(http.StatusOK, s.renderOpportunity(c.account, o, nil))
}

func (s *Service) archiveOpportunity(c *call) *apiError {
	var in map[string]json.RawMessage
	if e := c.decode(&in); e != nil {
		return e
	}
	raw, ok := in["reason"]
	if !ok {
		return badRequest("Missing required field: reason")
	}
	var reasonID *string
	if err := json.Unmarshal(raw, &reasonID); err != nil {
		return badRequest("Invalid reason: must be an archive reason id or null")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.opportunity(s)
	if e != nil {
		return e
	}
	performer, e := c.performAs(false)
	if e != nil {
		return e
	}
	var reason *simclient.LeverArchiveReason
	if reasonID != nil {
		r, ok := c.account.reason(*reasonID)
		if !ok || r.ID != *reasonID {
			return badRequest("Invalid archive reason: " + *reasonID)
		}
		reason = &r
	}
	uid := ""
	if performer != nil {
		uid = performer.ID
	}
	c.events = s.archiveLocked(c.account, o, reason, uid, "api")
	return c.data(http.StatusOK, s.renderOpportunity(c.account, o, nil))
}

// listEdit serves addTags/removeTags, addSources/removeSources and
// addLinks/removeLinks.
func (s *Service) listEdit(field string, add bool) handler {
	return func(c *call) *apiError {
		var in map[string]json.RawMessage
		if e := c.decode(&in); e != nil {
			return e
		}
		var items []string
		if raw, ok := in[field]; !ok || json.Unmarshal(raw, &items) != nil {
			return badRequest("Missing required field: " + field + " (an array of strings)")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o, e := c.opportunity(s)
		if e != nil {
			return e
		}
		performer, e := c.performAs(false)
		if e != nil {
			return e
		}
		var list *[]string
		switch field {
		case "tags":
			list = &o.rec.Tags
		case "sources":
			list = &o.rec.Sources
		default:
			list = &o.rec.Links
		}
		if add {
			*list = addUnique(*list, items...)
			switch field {
			case "tags":
				c.account.tags = addUnique(c.account.tags, items...)
			case "sources":
				c.account.sources = addUnique(c.account.sources, items...)
			}
		} else {
			*list = removeAll(*list, items...)
		}
		uid := ""
		if performer != nil {
			uid = performer.ID
		}
		s.record(o, field, uid, "api", s.nowMs())
		return c.data(http.StatusOK, s.renderOpportunity(c.account, o, nil))
	}
}

// renderOpportunity is the opportunity as Lever's API shows it.
func (s *Service) renderOpportunity(a *account, o *opportunity, expand []string) map[string]any {
	r := o.rec
	exp := func(name string) bool {
		return slices.ContainsFunc(expand, func(e string) bool { return slices.Contains(strings.Split(e, ","), name) })
	}
	phones := []map[string]string{}
	for i, p := range r.Phones {
		t := ""
		if i < len(o.phoneTypes) {
			t = o.phoneTypes[i]
		}
		if t == "" {
			t = "other"
		}
		phones = append(phones, map[string]string{"type": t, "value": p})
	}
	changes := []map[string]any{}
	for _, ch := range r.StageChanges {
		var uid any
		if ch.UserID != "" {
			uid = ch.UserID
		}
		changes = append(changes, map[string]any{"toStageId": ch.ToStageID, "toStageIndex": a.stageIndex(ch.ToStageID), "updatedAt": ch.UpdatedAt, "userId": uid})
	}
	lastAdvanced := r.StageChanges[len(r.StageChanges)-1].UpdatedAt
	var stage any = r.StageID
	if exp("stage") {
		st, _ := a.stage(r.StageID)
		stage = map[string]any{"id": st.ID, "text": st.Text}
	}
	var owner any = r.OwnerID
	if exp("owner") {
		owner = renderUser(s.users[r.OwnerID])
	}
	var followers any = r.FollowerIDs
	if exp("followers") {
		list := []map[string]any{}
		for _, f := range r.FollowerIDs {
			list = append(list, renderUser(s.users[f]))
		}
		followers = list
	}
	var apps any = r.ApplicationIDs
	if exp("applications") {
		list := []map[string]any{}
		for _, ap := range o.applications {
			list = append(list, s.renderApplication(a, o, ap))
		}
		apps = list
	}
	var sourcedBy any
	if r.Origin == "sourced" {
		sourcedBy = r.PerformAs
	}
	return map[string]any{
		"id": r.ID, "name": r.Name, "headline": r.Headline, "contact": r.ContactID,
		"emails": r.Emails, "phones": phones, "confidentiality": "non-confidential", "location": r.Location,
		"links": r.Links, "createdAt": r.CreatedAt, "updatedAt": r.UpdatedAt, "lastInteractionAt": r.UpdatedAt,
		"lastAdvancedAt": lastAdvanced, "snoozedUntil": nil, "archived": archivedState(o),
		"stage": stage, "stageChanges": changes, "owner": owner, "tags": r.Tags, "sources": r.Sources,
		"origin": r.Origin, "sourcedBy": sourcedBy, "applications": apps, "resume": nil, "followers": followers,
		"urls": map[string]string{
			"list": s.apiURL + "/candidates", "show": s.apiURL + "/candidates/" + r.ID,
		},
		"dataProtection": nil, "isAnonymized": false,
	}
}

func (s *Service) renderApplication(a *account, o *opportunity, ap application) map[string]any {
	p := a.posting(ap.postingID)
	var owner, hm any
	if p != nil {
		if p.ownerID != "" {
			owner = p.ownerID
		}
		if p.hiringManagerID != "" {
			hm = p.hiringManagerID
		}
	}
	email := ""
	if len(o.rec.Emails) > 0 {
		email = o.rec.Emails[0]
	}
	return map[string]any{
		"id": ap.id, "type": ap.typ, "candidateId": o.rec.ID, "opportunityId": o.rec.ID, "posting": ap.postingID,
		"postingOwner": owner, "postingHiringManager": hm, "user": ap.userID, "name": o.rec.Name, "email": email,
		"phone": nil, "company": nil, "links": []string{}, "comments": nil, "customQuestions": []any{},
		"createdAt": ap.createdAt, "archived": archivedState(o), "requisitionForHire": nil,
	}
}
