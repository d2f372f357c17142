package graph

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
)

// Graph's size limits for mail: a request body is at most 4 MB, so a file
// attached inline (base64 in JSON) is at most 3 MB; a file of 3 to 150 MB
// goes through an upload session, in chunks of at most 4 MB.
const (
	maxRequestBytes          = 4 << 20
	maxInlineAttachmentBytes = 3 << 20
	maxUploadAttachmentBytes = 150 << 20
	maxUploadChunkBytes      = 4 << 20
	uploadSessionLifetime    = 15 * time.Minute
)

func tooLarge() *graphError {
	return gerr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"The request is larger than 4 MB. Attach files over 3 MB with an upload session (createUploadSession).")
}

// inlineAttachment reads a file attachment given in a request body.
func inlineAttachment(a attachmentIn) (attachment, *graphError) {
	if a.ODataType != "" && !strings.EqualFold(a.ODataType, "#microsoft.graph.fileAttachment") {
		return attachment{}, badRequest("ErrorInvalidRequest", "Only file attachments are supported.")
	}
	raw, err := base64.StdEncoding.DecodeString(a.ContentBytes)
	if err != nil {
		return attachment{}, badRequest("ErrorInvalidRequest", "The attachment's contentBytes are not valid base64.")
	}
	if len(raw) > maxInlineAttachmentBytes {
		return attachment{}, tooLarge()
	}
	return attachment{name: a.Name, contentType: a.ContentType, size: len(raw)}, nil
}

func (s *Service) attachmentJSON(req *request, a attachment) obj {
	return obj{
		{"@odata.context", s.base + "/v1.0/$metadata#users('" + req.person.ID + "')/messages('" + req.route.msgID + "')/attachments/$entity"},
		{"@odata.type", "#microsoft.graph.fileAttachment"},
		{"id", a.id},
		{"lastModifiedDateTime", gtime(req.now)},
		{"name", a.name},
		{"contentType", nullable(a.contentType)},
		{"size", a.size},
		{"isInline", false},
	}
}

func (s *Service) newAttachmentID() string {
	return "AAMkAGI2" + base64.URLEncoding.EncodeToString(s.ids.Bytes("attachment", 60))
}

// draftLocked finds a draft of the caller's mailbox for an attachment call.
func (s *Service) draftLocked(req *request) (*message, *graphError) {
	m, e := s.mailboxLocked(req.person).lookup(req.route.msgID)
	if e != nil {
		return nil, e
	}
	if !m.isDraft {
		return nil, badRequest("ErrorInvalidOperation", "Attachments can be added only to a draft.")
	}
	return m, nil
}

// addAttachment is POST .../messages/{id}/attachments: a file under 3 MB.
func (s *Service) addAttachment(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in attachmentIn
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	a, e := inlineAttachment(in)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.draftLocked(req)
	if e != nil {
		return e
	}
	a.id = s.newAttachmentID()
	m.attachments = append(m.attachments, a)
	s.touchLocked(m, req.now, &req.events)
	simcore.WriteJSON(req.w, http.StatusCreated, s.attachmentJSON(req, a))
	return nil
}

// uploadSession is an attachment being uploaded in chunks.
type uploadSession struct {
	id, token   string
	mailboxID   string
	msgKey      string
	name        string
	contentType string
	size        int64
	received    int64
	expires     time.Time
}

// createUploadSession is POST .../messages/{id}/attachments/createUploadSession.
func (s *Service) createUploadSession(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in struct {
		AttachmentItem *struct {
			AttachmentType string `json:"attachmentType"`
			Name           string `json:"name"`
			Size           int64  `json:"size"`
			ContentType    string `json:"contentType"`
		} `json:"AttachmentItem"`
	}
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	item := in.AttachmentItem
	if item == nil || item.Name == "" || item.Size <= 0 {
		return badRequest("ErrorInvalidParameter", "The AttachmentItem parameter needs a name and a size.")
	}
	if item.AttachmentType != "" && !strings.EqualFold(item.AttachmentType, "file") {
		return badRequest("ErrorInvalidParameter", "Only file attachments can be uploaded.")
	}
	if item.Size < maxInlineAttachmentBytes {
		return badRequest("ErrorAttachmentSizeShouldNotBeLessThanMinimumSize", "Attachment size must be greater than the minimum size.")
	}
	if item.Size > maxUploadAttachmentBytes {
		return badRequest("ErrorAttachmentSizeTooLarge", "Attachments may be at most 150 MB.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.draftLocked(req)
	if e != nil {
		return e
	}
	u := &uploadSession{
		id: s.ids.Token("upload-session", 24), token: s.ids.Token("upload-token", 48),
		mailboxID: req.person.ID, msgKey: m.key, name: item.Name, contentType: item.ContentType,
		size: item.Size, expires: req.now.Add(uploadSessionLifetime),
	}
	s.uploads[u.id] = u
	simcore.WriteJSON(req.w, http.StatusCreated, obj{
		{"@odata.context", s.base + "/v1.0/$metadata#microsoft.graph.uploadSession"},
		{"uploadUrl", s.base + "/upload/attachmentSessions/" + u.id + "?authtoken=" + url.QueryEscape(u.token)},
		{"expirationDateTime", subTime(u.expires)},
		{"nextExpectedRanges", []string{"0-"}},
	})
	return nil
}

// serveUpload takes a chunk of an upload session (PUT with Content-Range) or
// cancels it (DELETE). The upload URL carries its own credential.
func (s *Service) serveUpload(w http.ResponseWriter, r *http.Request) {
	s.counters.Inc("graph.uploadAttachment")
	fail := func(e *graphError) { s.writeError(w, r, e) }
	id := strings.TrimPrefix(r.URL.Path, "/upload/attachmentSessions/")
	now := s.clock.Now()
	s.mu.Lock()
	u := s.uploads[id]
	if u == nil || u.token != r.URL.Query().Get("authtoken") || !now.Before(u.expires) {
		s.mu.Unlock()
		fail(gerr(http.StatusNotFound, "ErrorItemNotFound", "The upload session was not found or has expired."))
		return
	}
	s.mu.Unlock()
	switch r.Method {
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.uploads, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPut:
	default:
		fail(methodNotAllowed())
		return
	}
	first, last, total, ok := parseContentRange(r.Header.Get("Content-Range"))
	if !ok {
		fail(badRequest("ErrorInvalidContentRange", "The Content-Range header is missing or malformed."))
		return
	}
	if last-first+1 > maxUploadChunkBytes {
		fail(tooLarge())
		return
	}
	body, e := readBody(r)
	if e != nil {
		fail(e)
		return
	}
	var events []event
	defer func() { s.dispatch(events) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case total != u.size:
		fail(badRequest("ErrorInvalidContentRange", "The total size does not match the upload session."))
		return
	case first != u.received:
		fail(badRequest("ErrorInvalidContentRange", fmt.Sprintf("Expected the range to start at %d.", u.received)))
		return
	case int64(len(body)) != last-first+1:
		fail(badRequest("ErrorInvalidContentRange", "The body length does not match the Content-Range."))
		return
	}
	u.received = last + 1
	u.expires = now.Add(uploadSessionLifetime)
	if u.received < u.size {
		simcore.WriteJSON(w, http.StatusOK, obj{
			{"expirationDateTime", subTime(u.expires)},
			{"nextExpectedRanges", []string{strconv.FormatInt(u.received, 10)}},
		})
		return
	}
	delete(s.uploads, id)
	mb := s.mailboxes[u.mailboxID]
	var m *message
	if mb != nil {
		m = mb.messages[u.msgKey]
	}
	if m == nil || !m.isDraft {
		fail(errNotFound())
		return
	}
	a := attachment{id: s.newAttachmentID(), name: u.name, contentType: u.contentType, size: int(u.size)}
	m.attachments = append(m.attachments, a)
	s.touchLocked(m, now, &events)
	w.Header().Set("Location", s.base+"/v1.0/users('"+u.mailboxID+"')/messages('"+m.id(false)+"')/attachments('"+a.id+"')")
	w.WriteHeader(http.StatusCreated)
}

// parseContentRange reads "bytes first-last/total".
func parseContentRange(h string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, totalStr, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(totalStr, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}
