package ashby

import (
	"encoding/json"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// candidateFields are candidate.create's fields, also taken by update.
type candidateFields struct {
	Name                    *string   `json:"name"`
	Email                   *string   `json:"email"`
	PhoneNumber             *string   `json:"phoneNumber"`
	LinkedInURL             *string   `json:"linkedInUrl"`
	GithubURL               *string   `json:"githubUrl"`
	Website                 *string   `json:"website"`
	AlternateEmailAddresses []string  `json:"alternateEmailAddresses"`
	SourceID                *string   `json:"sourceId"`
	CreditedToUserID        *string   `json:"creditedToUserId"`
	Location                *location `json:"location"`
	CreatedAt               *string   `json:"createdAt"`
	Position                *string   `json:"position"`
	Company                 *string   `json:"company"`
	School                  *string   `json:"school"`
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s, "@")
}

func (s *Service) checkSource(req *request, id *string) *apiError {
	if id == nil || *id == "" {
		return nil
	}
	if src := s.w.sources[*id]; src == nil || src.orgID != req.org.id {
		return invalid("sourceId: no source with id %s.", *id)
	}
	return nil
}

func (s *Service) checkUser(req *request, field string, id *string) *apiError {
	if id == nil || *id == "" {
		return nil
	}
	if u := s.w.users[*id]; u == nil || u.orgID != req.org.id {
		return invalid("%s: no user with id %s.", field, *id)
	}
	return nil
}

// apply writes the given fields onto c (validated beforehand).
func (f candidateFields) apply(c *candidate) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&c.name, f.Name)
	if f.Email != nil && *f.Email != "" {
		e := emailAddress{value: strings.TrimSpace(*f.Email), typ: "Work"}
		c.emails = slices.DeleteFunc(c.emails, func(x emailAddress) bool { return strings.EqualFold(x.value, e.value) })
		c.emails = append([]emailAddress{e}, c.emails...)
	}
	for _, alt := range f.AlternateEmailAddresses {
		if !slices.ContainsFunc(c.emails, func(x emailAddress) bool { return strings.EqualFold(x.value, alt) }) {
			c.emails = append(c.emails, emailAddress{value: alt, typ: "Other"})
		}
	}
	if f.PhoneNumber != nil && *f.PhoneNumber != "" {
		c.phones = append([]emailAddress{{value: *f.PhoneNumber, typ: "Work"}}, slices.DeleteFunc(c.phones, func(x emailAddress) bool { return x.value == *f.PhoneNumber })...)
	}
	link := func(typ string, v *string) {
		if v == nil || *v == "" {
			return
		}
		c.links = slices.DeleteFunc(c.links, func(l socialLink) bool { return l.typ == typ })
		c.links = append(c.links, socialLink{typ: typ, url: *v})
	}
	link("LinkedIn", f.LinkedInURL)
	link("GitHub", f.GithubURL)
	link("Website", f.Website)
	set(&c.sourceID, f.SourceID)
	set(&c.creditedTo, f.CreditedToUserID)
	set(&c.position, f.Position)
	set(&c.company, f.Company)
	set(&c.school, f.School)
	if f.Location != nil {
		l := *f.Location
		c.loc = &l
	}
}

func (s *Service) checkCandidateFields(req *request, f candidateFields, create bool) *apiError {
	if create && (f.Name == nil || strings.TrimSpace(*f.Name) == "") {
		return invalid("name is required.")
	}
	if !create && f.Name != nil && strings.TrimSpace(*f.Name) == "" {
		return invalid("name must not be empty.")
	}
	if f.Email != nil && *f.Email != "" && !validEmail(strings.TrimSpace(*f.Email)) {
		return invalid("email %q is not a valid email address.", *f.Email)
	}
	for _, e := range f.AlternateEmailAddresses {
		if !validEmail(e) {
			return invalid("alternateEmailAddresses: %q is not a valid email address.", e)
		}
	}
	if f.CreatedAt != nil {
		if _, err := time.Parse(time.RFC3339Nano, *f.CreatedAt); err != nil {
			return invalid("createdAt must be an ISO 8601 date and time.")
		}
	}
	if e := s.checkSource(req, f.SourceID); e != nil {
		return e
	}
	return s.checkUser(req, "creditedToUserId", f.CreditedToUserID)
}

// newCandidate stores a candidate (fields validated).
func (s *Service) newCandidate(o *org, f candidateFields, keyID string, now time.Time) *candidate {
	c := &candidate{orgID: o.id, createdByKeyID: keyID}
	created := now
	if f.CreatedAt != nil {
		if t, err := time.Parse(time.RFC3339Nano, *f.CreatedAt); err == nil {
			created = t.UTC()
		}
	}
	s.w.born(&c.meta, s.ids.GUID("ashby-candidate"), now)
	c.created = created
	f.apply(c)
	s.w.candidates[c.id] = c
	o.candidates = append(o.candidates, c)
	return c
}

func (s *Service) candidateCreate(req *request) (any, *apiError) {
	var in candidateFields
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if e := s.checkCandidateFields(req, in, true); e != nil {
		return nil, e
	}
	c := s.newCandidate(req.org, in, req.key.id, req.now)
	return s.candidateJSON(c), nil
}

// candidate finds a candidate of the caller's organization, following
// merges (an id merged away answers with the surviving candidate).
func (s *Service) candidate(req *request, field, id string) (*candidate, *apiError) {
	if id == "" {
		return nil, invalid("%s is required.", field)
	}
	if to, ok := s.w.mergedInto[id]; ok {
		id = to
	}
	c := s.w.candidates[id]
	if c == nil || c.orgID != req.org.id {
		return nil, fail("candidate_not_found", "No candidate with id %s.", id)
	}
	return c, nil
}

func (s *Service) candidateSearch(req *request) (any, *apiError) {
	var in struct {
		Email *string `json:"email"`
		Name  *string `json:"name"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	email, name := "", ""
	if in.Email != nil {
		email = strings.TrimSpace(*in.Email)
	}
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if email == "" && name == "" {
		return nil, invalid("Give email, name or both.")
	}
	out := []any{}
	for _, c := range req.org.candidates {
		if email != "" && !slices.ContainsFunc(c.emails, func(e emailAddress) bool { return strings.EqualFold(e.value, email) }) {
			continue
		}
		if name != "" && !strings.Contains(strings.ToLower(c.name), strings.ToLower(name)) {
			continue
		}
		out = append(out, s.candidateJSON(c))
		if len(out) == maxLimit {
			break // at most 100 results, no pagination
		}
	}
	return out, nil
}

func (s *Service) candidateInfo(req *request) (any, *apiError) {
	var in struct {
		ID                string `json:"id"`
		ExternalMappingID string `json:"externalMappingId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.ID == "" && in.ExternalMappingID != "" {
		for _, c := range req.org.candidates {
			if c.externalMapping == in.ExternalMappingID {
				return s.candidateJSON(c), nil
			}
		}
		return nil, fail("candidate_not_found", "No candidate with externalMappingId %s.", in.ExternalMappingID)
	}
	if in.ID == "" {
		return nil, invalid("Give id or externalMappingId.")
	}
	c, e := s.candidate(req, "id", in.ID)
	if e != nil {
		return nil, e
	}
	return s.candidateJSON(c), nil
}

type createdAfterFilter struct {
	CreatedAfter *int64 `json:"createdAfter"`
}

func (s *Service) candidateList(req *request) (any, *apiError) {
	var in struct {
		pageIn
		createdAfterFilter
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	return paginate(s, req, in.pageIn, in.createdAfterFilter, true, func(f createdAfterFilter) []pageItem {
		after := createdAfter(f.CreatedAfter)
		var out []pageItem
		for _, c := range req.org.candidates {
			if !after.IsZero() && !c.created.After(after) {
				continue
			}
			out = append(out, pageItem{ord: c.ord, seq: c.seq, render: func() any { return s.candidateJSON(c) }})
		}
		return out
	})
}

func (s *Service) candidateUpdate(req *request) (any, *apiError) {
	var in struct {
		CandidateID string `json:"candidateId"`
		candidateFields
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	c, e := s.candidate(req, "candidateId", in.CandidateID)
	if e != nil {
		return nil, e
	}
	if e := s.checkCandidateFields(req, in.candidateFields, false); e != nil {
		return nil, e
	}
	in.apply(c)
	s.w.touch(&c.meta, req.now)
	return s.candidateJSON(c), nil
}

// noteIn is candidate.createNote's note: a string (plain text) or
// {type, value}.
type noteIn struct {
	typ, value string
}

func (n *noteIn) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		n.typ, n.value = "text/plain", str
		return nil
	}
	var o struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	n.typ, n.value = o.Type, o.Value
	return nil
}

func (s *Service) candidateCreateNote(req *request) (any, *apiError) {
	var in struct {
		CandidateID       string  `json:"candidateId"`
		Note              *noteIn `json:"note"`
		SendNotifications bool    `json:"sendNotifications"`
		IsPrivate         bool    `json:"isPrivate"`
		CreatedAt         *string `json:"createdAt"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	c, e := s.candidate(req, "candidateId", in.CandidateID)
	if e != nil {
		return nil, e
	}
	if in.Note == nil {
		return nil, invalid("note is required.")
	}
	content := in.Note.value
	switch in.Note.typ {
	case "text/plain":
	case "text/html":
		content = sanitizeNoteHTML(content)
	default:
		return nil, invalid("note.type must be text/plain or text/html, got %q.", in.Note.typ)
	}
	if strings.TrimSpace(content) == "" {
		return nil, invalid("note must not be empty.")
	}
	created := req.now
	if in.CreatedAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.CreatedAt)
		if err != nil {
			return nil, invalid("createdAt must be an ISO 8601 date and time.")
		}
		created = t.UTC()
	}
	n := &note{content: content, contentType: in.Note.typ, private: in.IsPrivate, authorID: req.key.userID, keyID: req.key.id}
	s.w.born(&n.meta, s.ids.GUID("ashby-note"), req.now)
	n.created = created
	c.notes = append(c.notes, n)
	return s.noteJSON(n), nil
}

func (s *Service) candidateListNotes(req *request) (any, *apiError) {
	var in struct {
		pageIn
		CandidateID string `json:"candidateId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	id := in.CandidateID
	if in.Cursor != nil && *in.Cursor != "" {
		if c := s.w.cursors[*in.Cursor]; c != nil {
			if cid, ok := c.filter.(string); ok {
				id = cid
			}
		}
	}
	c, e := s.candidate(req, "candidateId", id)
	if e != nil {
		return nil, e
	}
	return s.plainPage(req, in.pageIn, c.id, func(any) []pageItem {
		out := make([]pageItem, 0, len(c.notes))
		for _, n := range c.notes {
			out = append(out, pageItem{ord: n.ord, seq: n.seq, render: func() any { return s.noteJSON(n) }})
		}
		return out
	})
}

func (s *Service) candidateUploadResume(req *request) (any, *apiError) {
	if req.form != nil {
		return s.uploadResumeMultipart(req)
	}
	var in struct {
		CandidateID  string `json:"candidateId"`
		ResumeHandle string `json:"resumeHandle"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	c, e := s.candidate(req, "candidateId", in.CandidateID)
	if e != nil {
		return nil, e
	}
	if in.ResumeHandle == "" {
		return nil, invalid("resumeHandle is required.")
	}
	f := s.w.files[in.ResumeHandle]
	switch {
	case f == nil || f.orgID != req.org.id:
		return nil, invalid("resumeHandle: no file with handle %s.", in.ResumeHandle)
	case !f.uploaded:
		return nil, invalid("resumeHandle: the file %s has not been uploaded.", in.ResumeHandle)
	case f.context != "CandidateResume":
		return nil, invalid("resumeHandle: the file was created for %s, not CandidateResume.", f.context)
	}
	c.resume = f
	s.w.touch(&c.meta, req.now)
	return s.candidateJSON(c), nil
}

// uploadResumeMultipart is the deprecated form: candidateId and a resume
// file part.
func (s *Service) uploadResumeMultipart(req *request) (any, *apiError) {
	var id string
	if v := req.form.Value["candidateId"]; len(v) > 0 {
		id = v[0]
	}
	c, e := s.candidate(req, "candidateId", id)
	if e != nil {
		return nil, e
	}
	parts := req.form.File["resume"]
	if len(parts) == 0 {
		return nil, invalid("resume is required: a file part named resume.")
	}
	fh := parts[0]
	rd, err := fh.Open()
	if err != nil {
		return nil, invalid("resume could not be read.")
	}
	defer rd.Close()
	data := make([]byte, fh.Size)
	if _, err := io.ReadFull(rd, data); err != nil {
		return nil, invalid("resume could not be read.")
	}
	f := &file{
		id: s.ids.GUID("ashby-file"), handle: s.ids.Token("ashby-handle", 24), orgID: req.org.id, keyID: req.key.id,
		name: fh.Filename, contentType: fh.Header.Get("Content-Type"), context: "CandidateResume",
		declaredLength: len(data), data: data, uploaded: true,
	}
	s.w.files[f.handle] = f
	c.resume = f
	s.w.touch(&c.meta, req.now)
	s.counters.Inc("ashby.candidate.uploadResume.multipart")
	return s.candidateJSON(c), nil
}

func (s *Service) candidateAddEmailMessage(req *request) (any, *apiError) {
	var in struct {
		CandidateID          string          `json:"candidateId"`
		EmailProviderEmailID string          `json:"emailProviderEmailId"`
		Subject              *string         `json:"subject"`
		From                 json.RawMessage `json:"from"`
		To                   json.RawMessage `json:"to"`
		Cc                   json.RawMessage `json:"cc"`
		Body                 *string         `json:"body"`
		UserID               *string         `json:"userId"`
		SentAt               *string         `json:"sentAt"`
		MessageURL           string          `json:"messageUrl"`
		MessageIDHeader      string          `json:"messageIdHeader"`
		ThreadID             string          `json:"threadId"`
		IsPrivate            bool            `json:"isPrivate"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	c, e := s.candidate(req, "candidateId", in.CandidateID)
	if e != nil {
		return nil, e
	}
	switch {
	case in.EmailProviderEmailID == "":
		return nil, invalid("emailProviderEmailId is required.")
	case in.Subject == nil:
		return nil, invalid("subject is required.")
	case len(in.From) == 0 || string(in.From) == "null":
		return nil, invalid("from is required.")
	case len(in.To) == 0 || string(in.To) == "null":
		return nil, invalid("to is required.")
	case in.Body == nil:
		return nil, invalid("body is required.")
	}
	if e := s.checkUser(req, "userId", in.UserID); e != nil {
		return nil, e
	}
	if in.SentAt != nil {
		if _, err := time.Parse(time.RFC3339Nano, *in.SentAt); err != nil {
			return nil, invalid("sentAt must be an ISO 8601 date and time.")
		}
	}
	// emailProviderEmailId is unique per API key: a second call with the
	// same id is answered with the message logged the first time.
	for _, cand := range req.org.candidates {
		for _, m := range cand.emails2 {
			if m.keyID == req.key.id && m.providerID == in.EmailProviderEmailID {
				return emailMessageJSON(cand, m), nil
			}
		}
	}
	m := &emailMessage{
		id: s.ids.GUID("ashby-email"), providerID: in.EmailProviderEmailID, keyID: req.key.id,
		subject: *in.Subject, body: *in.Body, from: in.From, to: in.To, cc: in.Cc,
		messageURL: in.MessageURL, messageIDHeader: in.MessageIDHeader, threadID: in.ThreadID,
		private: in.IsPrivate, created: req.now,
	}
	if in.UserID != nil {
		m.userID = *in.UserID
	}
	if in.SentAt != nil {
		m.sentAt = *in.SentAt
	}
	c.emails2 = append(c.emails2, m)
	s.w.touch(&c.meta, req.now)
	return emailMessageJSON(c, m), nil
}

func emailMessageJSON(c *candidate, m *emailMessage) object {
	return object{
		"id": m.id, "candidateId": c.id, "emailProviderEmailId": m.providerID, "subject": m.subject,
		"isPrivate": m.private, "createdAt": ts(m.created), "sentAt": strOrNil(m.sentAt),
	}
}
