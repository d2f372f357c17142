package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
)

// maxCustomHeaders is how many x- internet headers one message may carry.
const maxCustomHeaders = 5

type emailAddressJSON struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type recipientIn struct {
	EmailAddress emailAddressJSON `json:"emailAddress"`
}

type bodyIn struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

type attachmentIn struct {
	ODataType    string `json:"@odata.type"`
	Name         string `json:"name"`
	ContentType  string `json:"contentType"`
	ContentBytes string `json:"contentBytes"`
}

// messageIn is a message in a request body; nil fields were not given.
type messageIn struct {
	Subject                *string         `json:"subject"`
	Body                   *bodyIn         `json:"body"`
	ToRecipients           *[]recipientIn  `json:"toRecipients"`
	CcRecipients           *[]recipientIn  `json:"ccRecipients"`
	BccRecipients          *[]recipientIn  `json:"bccRecipients"`
	ReplyTo                *[]recipientIn  `json:"replyTo"`
	From                   *recipientIn    `json:"from"`
	InternetMessageHeaders *[]header       `json:"internetMessageHeaders"`
	Importance             *string         `json:"importance"`
	IsRead                 *odataBool      `json:"isRead"`
	Attachments            *[]attachmentIn `json:"attachments"`
}

// readBody reads a request body; Graph refuses bodies over 4 MB with 413.
func readBody(r *http.Request) ([]byte, *graphError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return nil, badRequest("BadRequest", "Unable to read the request body.")
	}
	if len(b) > maxRequestBytes {
		return nil, tooLarge()
	}
	return b, nil
}

func decodeJSON(b []byte, v any) *graphError {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("BadRequest", "Empty Payload. JSON content expected.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

func validAddress(a string) bool {
	_, err := mail.ParseAddress(a)
	return err == nil && strings.Contains(a, "@")
}

func toAddresses(in []recipientIn) ([]address, *graphError) {
	out := make([]address, 0, len(in))
	for _, r := range in {
		a := strings.TrimSpace(r.EmailAddress.Address)
		if !validAddress(a) {
			return nil, badRequest("ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '"+a+"' isn't resolved. All recipients must be resolved before a message can be submitted.")
		}
		out = append(out, address{Name: r.EmailAddress.Name, Address: a})
	}
	return out, nil
}

// apply copies the given fields of in onto m, validating them.
func apply(m *message, in *messageIn) *graphError {
	if in.Subject != nil {
		m.subject = *in.Subject
	}
	if in.Body != nil {
		switch strings.ToLower(in.Body.ContentType) {
		case "", "text":
			m.bodyType = "text"
		case "html":
			m.bodyType = "html"
		default:
			return badRequest("RequestBodyRead", "Cannot convert the literal '"+in.Body.ContentType+"' to the expected type 'microsoft.graph.bodyType'.")
		}
		m.body = in.Body.Content
	}
	for _, pair := range []struct {
		in  *[]recipientIn
		out *[]address
	}{{in.ToRecipients, &m.to}, {in.CcRecipients, &m.cc}, {in.BccRecipients, &m.bcc}, {in.ReplyTo, &m.replyTo}} {
		if pair.in == nil {
			continue
		}
		list, e := toAddresses(*pair.in)
		if e != nil {
			return e
		}
		*pair.out = list
	}
	if in.From != nil {
		list, e := toAddresses([]recipientIn{*in.From})
		if e != nil {
			return e
		}
		m.from = &list[0]
	}
	if in.InternetMessageHeaders != nil {
		hs := *in.InternetMessageHeaders
		if len(hs) > maxCustomHeaders {
			return badRequest("InvalidInternetMessageHeaderCollection", fmt.Sprintf("Maximum number of headers in one message should be less than or equal to %d.", maxCustomHeaders))
		}
		for _, h := range hs {
			if !strings.HasPrefix(strings.ToLower(h.Name), "x-") {
				return badRequest("InvalidInternetMessageHeader", "The internet message header name '"+h.Name+"' should start with 'x-' or 'X-'.")
			}
		}
		m.custom = slices.Clone(hs)
	}
	if in.Importance != nil {
		switch strings.ToLower(*in.Importance) {
		case "low", "normal", "high":
			m.importance = strings.ToLower(*in.Importance)
		default:
			return badRequest("RequestBodyRead", "Cannot convert the literal '"+*in.Importance+"' to the expected type 'microsoft.graph.importance'.")
		}
	}
	if in.IsRead != nil {
		m.isRead = bool(*in.IsRead)
	}
	if in.Attachments != nil {
		for _, a := range *in.Attachments {
			if a.ODataType != "" && !strings.EqualFold(a.ODataType, "#microsoft.graph.fileAttachment") {
				return badRequest("ErrorInvalidRequest", "Only file attachments are supported.")
			}
			att, e := inlineAttachment(a)
			if e != nil {
				return e
			}
			m.attachments = append(m.attachments, att)
		}
	}
	return nil
}

func (req *request) ownerAddress() address {
	return address{Name: req.person.DisplayName, Address: req.person.Mail}
}

func (req *request) key() string { return req.principal.ClientID + "|" + req.person.ID }

func (s *Service) sendMail(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	m := &message{bodyType: "text", importance: "normal"}
	save := true
	if mediaType(req.r.Header.Get("Content-Type")) == "text/plain" {
		if e := parseMIME(m, raw); e != nil {
			return e
		}
	} else {
		var payload struct {
			Message         *messageIn `json:"message"`
			SaveToSentItems *odataBool `json:"saveToSentItems"`
		}
		if e := decodeJSON(raw, &payload); e != nil {
			return e
		}
		if payload.Message == nil {
			return badRequest("ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
		}
		if e := apply(m, payload.Message); e != nil {
			return e
		}
		if payload.SaveToSentItems != nil {
			save = bool(*payload.SaveToSentItems)
		}
	}
	rcpts := m.recipients()
	if len(rcpts) == 0 {
		return badRequest("ErrorInvalidRecipients", "At least one recipient isn't valid.")
	}
	plan, e := s.reserveSend(req.person, len(rcpts))
	if e != nil {
		return e
	}
	s.mu.Lock()
	mb := s.mailboxLocked(req.person)
	m.internetID = s.newInternetID()
	m.conversationID, m.conversationIndex = s.newConversation()
	m.created, m.modified = req.now, req.now
	s.submitLocked(mb, m, req.ownerAddress(), save, plan, req.now, &req.events)
	s.mu.Unlock()
	s.counters.Inc("graph.sent", "graph.sent/user="+req.person.UserPrincipalName)
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}

// parseMIME reads the base64 MIME body of a sendMail request.
func parseMIME(m *message, raw []byte) *graphError {
	invalid := badRequest("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
	clean := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, string(raw))
	decoded, err := base64.StdEncoding.DecodeString(clean)
	if err != nil || len(decoded) == 0 {
		return invalid
	}
	msg, err := mail.ReadMessage(bytes.NewReader(decoded))
	if err != nil {
		return badRequest("ErrorMimeContentInvalid", "The MIME content is not valid.")
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return badRequest("ErrorMimeContentInvalid", "The MIME content is not valid.")
	}
	m.subject = msg.Header.Get("Subject")
	m.body = string(body)
	if mediaType(msg.Header.Get("Content-Type")) == "text/html" {
		m.bodyType = "html"
	}
	for name, dst := range map[string]*[]address{"To": &m.to, "Cc": &m.cc, "Bcc": &m.bcc} {
		if msg.Header.Get(name) == "" {
			continue
		}
		list, err := msg.Header.AddressList(name)
		if err != nil {
			return badRequest("ErrorInvalidRecipients", "At least one recipient isn't valid.")
		}
		for _, a := range list {
			*dst = append(*dst, address{Name: a.Name, Address: a.Address})
		}
	}
	for name, values := range msg.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-") {
			for _, v := range values {
				m.custom = append(m.custom, header{Name: name, Value: v})
			}
		}
	}
	return nil
}

// submitLocked hands a message to transport as the plan says: sent now
// (filed in Sent Items, or discarded when save is false, and delivered to
// every recipient), held in the Outbox until the rate lets it go, or refused
// with a non-delivery report when the mailbox is blocked from sending.
func (s *Service) submitLocked(mb *mailbox, m *message, from address, save bool, plan sendPlan, now time.Time, events *[]event) {
	m.isDraft, m.isRead = false, true
	m.modified = now
	m.from, m.sender = &from, &from
	if !plan.at.IsZero() && !plan.blocked {
		s.fileLocked(mb, mb.wellKnown["outbox"], m, now, events)
		s.outbox = append(s.outbox, queuedSend{mb: mb, m: m, save: save, at: plan.at})
		return
	}
	s.transportLocked(mb, m, save, now, events)
	if plan.blocked {
		s.bounceLocked(m, m.recipients(), blockedSenderReason, now, events)
		return
	}
	s.deliverLocked(m, now, events)
}

// transportLocked files a message that leaves the mailbox: in Sent Items,
// or nowhere when save is false.
func (s *Service) transportLocked(mb *mailbox, m *message, save bool, now time.Time, events *[]event) {
	m.sent, m.received, m.modified = now, now, now
	if save {
		s.fileLocked(mb, mb.wellKnown["sentitems"], m, now, events)
	} else if m.folder != nil {
		s.removeLocked(m, events)
	}
}

// fileLocked puts a message in a folder, moving it there if it is filed
// elsewhere.
func (s *Service) fileLocked(mb *mailbox, f *folder, m *message, now time.Time, events *[]event) {
	if m.folder == nil {
		s.putLocked(mb, f, m, events)
		return
	}
	s.moveLocked(m, f, now, events)
}

// queuedSend is a submission Exchange holds back because the mailbox is over
// its message rate.
type queuedSend struct {
	mb   *mailbox
	m    *message
	save bool
	at   time.Time
	// draft marks a sent draft that stays in Drafts until at
	// (SentItemsDelayMs); from is its sender.
	draft bool
	from  address
}

// releaseOutboxLocked sends the held submissions whose time has come.
func (s *Service) releaseOutboxLocked(now time.Time, events *[]event) {
	kept := s.outbox[:0]
	for _, q := range s.outbox {
		if q.at.After(now) {
			kept = append(kept, q)
			continue
		}
		if q.draft {
			s.releaseDraftLocked(q, events)
			continue
		}
		if q.m.folder != q.mb.wellKnown["outbox"] || q.mb.messages[q.m.key] != q.m {
			continue // deleted or moved out of the Outbox before it went
		}
		s.transportLocked(q.mb, q.m, q.save, q.at, events)
		s.deliverLocked(q.m, q.at, events)
	}
	clear(s.outbox[len(kept):])
	s.outbox = kept
}

// releaseDraftLocked sends a draft whose send was accepted SentItemsDelayMs
// ago. A draft sent again in that time has left already: the second
// submission goes as a copy of its own, filed in Sent Items and delivered
// again, as a second submission of the same item would.
func (s *Service) releaseDraftLocked(q queuedSend, events *[]event) {
	if q.mb.messages[q.m.key] != q.m {
		return // deleted before it went
	}
	m := q.m
	if !m.isDraft {
		c := m.copyFor(q.at)
		c.delivered, c.isDraft, c.isRead = false, false, true
		s.counters.Inc("graph.sentAgain", "graph.sentAgain/user="+q.mb.person.UserPrincipalName)
		m = c
	}
	m.isDraft, m.isRead = false, true
	from := q.from
	m.from, m.sender = &from, &from
	s.transportLocked(q.mb, m, q.save, q.at, events)
	s.deliverLocked(m, q.at, events)
}

// ReleaseOutbox sends held submissions that are due; it runs on every Graph
// request, control-API read of mail, and a short timer.
func (s *Service) ReleaseOutbox() {
	var events []event
	s.mu.Lock()
	s.releaseOutboxLocked(s.clock.Now(), &events)
	s.mu.Unlock()
	s.dispatch(events)
}

func (s *Service) createMessage(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in messageIn
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	m := &message{bodyType: "text", importance: "normal", isDraft: true, isRead: true}
	if e := apply(m, &in); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	f := mb.wellKnown["drafts"]
	if req.route.folder != "" {
		if f = mb.folder(req.route.folder); f == nil {
			return errNotFound()
		}
	}
	owner := req.ownerAddress()
	m.from, m.sender = &owner, &owner
	m.created, m.modified = req.now, req.now
	m.sent, m.received = req.now, req.now
	m.internetID = s.newInternetID()
	m.conversationID, m.conversationIndex = s.newConversation()
	s.putLocked(mb, f, m, &req.events)
	s.writeMessage(req, http.StatusCreated, m, nil)
	return nil
}

func (s *Service) writeMessage(req *request, status int, m *message, sel selection) {
	out := append(obj{{"@odata.context", s.base + "/v1.0/$metadata#users('" + req.person.ID + "')/messages/$entity"}},
		s.renderMessage(m, sel, req.immutable, readBasicOnly(req))...)
	simcore.WriteJSON(req.w, status, out)
}

func (s *Service) getMessage(req *request) *graphError {
	sel, e := parseSelect(req.r.URL.Query().Get("$select"))
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.mailboxLocked(req.person).lookup(req.route.msgID)
	if e != nil {
		return e
	}
	s.writeMessage(req, http.StatusOK, m, sel)
	return nil
}

func (s *Service) updateMessage(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in messageIn
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, e := s.mailboxLocked(req.person).lookup(req.route.msgID)
	if e != nil {
		return e
	}
	if !m.isDraft && (in.Subject != nil || in.Body != nil || in.ToRecipients != nil || in.CcRecipients != nil ||
		in.BccRecipients != nil || in.InternetMessageHeaders != nil || in.Attachments != nil || in.From != nil) {
		return badRequest("ErrorInvalidPropertyUpdateSentMessage", "Update operation failed for property: only isRead, importance and replyTo may change on a message that is not a draft.")
	}
	next := *m
	if e := apply(&next, &in); e != nil {
		return e
	}
	*m = next
	s.touchLocked(m, req.now, &req.events)
	s.writeMessage(req, http.StatusOK, m, nil)
	return nil
}

func (s *Service) deleteMessage(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	m, e := mb.lookup(req.route.msgID)
	if e != nil {
		return e
	}
	if deleted := mb.wellKnown["deleteditems"]; m.folder != deleted {
		s.moveLocked(m, deleted, req.now, &req.events)
	} else {
		s.removeLocked(m, &req.events)
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) moveMessage(req *request) *graphError {
	raw, e := readBody(req.r)
	if e != nil {
		return e
	}
	var in struct {
		DestinationID string `json:"destinationId"`
	}
	if e := decodeJSON(raw, &in); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	m, e := mb.lookup(req.route.msgID)
	if e != nil {
		return e
	}
	to := mb.folder(in.DestinationID)
	if to == nil {
		return badRequest("ErrorInvalidIdMalformed", "Id is malformed.")
	}
	s.moveLocked(m, to, req.now, &req.events)
	s.writeMessage(req, http.StatusCreated, m, nil)
	return nil
}

func (s *Service) sendDraft(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	m, e := mb.lookup(req.route.msgID)
	if e != nil {
		return e
	}
	if !m.isDraft {
		return badRequest("ErrorInvalidOperation", "Only a draft can be sent.")
	}
	rcpts := m.recipients()
	if len(rcpts) == 0 {
		return badRequest("ErrorInvalidRecipients", "At least one recipient isn't valid.")
	}
	plan, e := s.reserveSend(req.person, len(rcpts))
	if e != nil {
		return e
	}
	s.counters.Inc("graph.sent", "graph.sent/user="+req.person.UserPrincipalName)
	if delay := time.Duration(s.Limits().SentItemsDelayMs) * time.Millisecond; delay > 0 && !plan.blocked {
		// Accepted, but filed later: until then the draft reads as a
		// draft still.
		at := req.now.Add(delay)
		if plan.at.After(at) {
			at = plan.at
		}
		s.outbox = append(s.outbox, queuedSend{mb: mb, m: m, save: true, at: at, draft: true, from: req.ownerAddress()})
		req.w.WriteHeader(http.StatusAccepted)
		return nil
	}
	s.submitLocked(mb, m, req.ownerAddress(), true, plan, req.now, &req.events)
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}

// replyRequest is the body of reply, replyAll, createReply, createReplyAll.
type replyRequest struct {
	Comment *string    `json:"comment"`
	Message *messageIn `json:"message"`
}

func (s *Service) parseReply(req *request) (replyRequest, *graphError) {
	var in replyRequest
	raw, e := readBody(req.r)
	if e != nil {
		return in, e
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if e := decodeJSON(raw, &in); e != nil {
			return in, e
		}
	}
	if in.Comment != nil && in.Message != nil && in.Message.Body != nil {
		return in, badRequest("ErrorInvalidRequest", "Specify either the comment or the body property of the message parameter, not both.")
	}
	return in, nil
}

func (s *Service) reply(req *request) *graphError {
	in, e := s.parseReply(req)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	orig, e := mb.lookup(req.route.msgID)
	if e != nil {
		return e
	}
	r, e := s.buildReply(orig, req.ownerAddress(), req.route.op == "replyAll", in, req.now)
	if e != nil {
		return e
	}
	rcpts := r.recipients()
	if len(rcpts) == 0 {
		return badRequest("ErrorInvalidRecipients", "At least one recipient isn't valid.")
	}
	plan, e := s.reserveSend(req.person, len(rcpts))
	if e != nil {
		return e
	}
	r.internetID = s.newInternetID()
	s.submitLocked(mb, r, req.ownerAddress(), true, plan, req.now, &req.events)
	s.counters.Inc("graph.sent", "graph.sent/user="+req.person.UserPrincipalName)
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Service) createReply(req *request) *graphError {
	in, e := s.parseReply(req)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	orig, e := mb.lookup(req.route.msgID)
	if e != nil {
		return e
	}
	r, e := s.buildReply(orig, req.ownerAddress(), req.route.op == "createReplyAll", in, req.now)
	if e != nil {
		return e
	}
	r.isDraft, r.isRead = true, true
	// Graph stamps a new draft's sent and received times with its creation.
	r.sent, r.received = req.now, req.now
	r.internetID = s.newInternetID()
	s.putLocked(mb, mb.wellKnown["drafts"], r, &req.events)
	s.writeMessage(req, http.StatusCreated, r, nil)
	return nil
}

// buildReply makes a reply to orig written by replier: same conversation,
// In-Reply-To and References set, the original quoted.
func (s *Service) buildReply(orig *message, replier address, all bool, in replyRequest, now time.Time) (*message, *graphError) {
	r := &message{
		created: now, modified: now, bodyType: orig.bodyType, importance: "normal",
		subject:        replySubject("RE: ", orig.subject),
		conversationID: orig.conversationID, conversationIndex: s.childIndex(orig.conversationIndex),
		from: &replier, sender: &replier,
	}
	refs := orig.headerValue("References")
	if refs != "" {
		refs += " "
	}
	r.system = []header{{"In-Reply-To", orig.internetID}, {"References", refs + orig.internetID}}
	self := strings.ToLower(replier.Address)
	notSelf := func(list []address) []address {
		return slices.DeleteFunc(slices.Clone(list), func(a address) bool { return strings.EqualFold(a.Address, self) })
	}
	switch {
	case orig.from != nil && strings.EqualFold(orig.from.Address, self):
		// Answering one's own message goes to its recipients, as Outlook does.
		r.to = slices.Clone(orig.to)
	case len(orig.replyTo) > 0:
		r.to = slices.Clone(orig.replyTo)
	case orig.from != nil:
		r.to = []address{*orig.from}
	}
	if all {
		for _, a := range notSelf(orig.to) {
			if !slices.ContainsFunc(r.to, func(b address) bool { return strings.EqualFold(a.Address, b.Address) }) {
				r.to = append(r.to, a)
			}
		}
		r.cc = notSelf(orig.cc)
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	if in.Message != nil {
		if e := apply(r, in.Message); e != nil {
			return nil, e
		}
		if in.Message.Body != nil {
			comment = in.Message.Body.Content
		}
	}
	r.body = quote(comment, orig, r.bodyType)
	return r, nil
}

func replySubject(prefix, subject string) string {
	if strings.HasPrefix(strings.ToLower(subject), strings.ToLower(strings.TrimSpace(prefix))) {
		return subject
	}
	return prefix + subject
}

// quote writes the reply text above Outlook's header block and the original.
func quote(comment string, orig *message, bodyType string) string {
	hdr := fmt.Sprintf("From: %s\r\nSent: %s\r\nTo: %s\r\nSubject: %s",
		formatAddress(orig.from), orig.sent.Format("Monday, January 2, 2006 3:04 PM"), formatAddresses(orig.to), orig.subject)
	if bodyType == "html" {
		return "<html><body><div>" + comment + "</div><hr><div id=\"divRplyFwdMsg\">" +
			strings.ReplaceAll(hdr, "\r\n", "<br>") + "</div><div>" + orig.body + "</div></body></html>"
	}
	return comment + "\r\n\r\n________________________________\r\n" + hdr + "\r\n\r\n" + orig.body
}

func (s *Service) listMessages(req *request) *graphError {
	q := req.r.URL.Query()
	sel, e := parseSelect(q.Get("$select"))
	if e != nil {
		return e
	}
	filter, e := parseFilter(q.Get("$filter"))
	if e != nil {
		return e
	}
	desc := true
	switch ob := strings.ToLower(strings.Join(strings.Fields(q.Get("$orderby")), " ")); ob {
	case "", "receiveddatetime desc":
	case "receiveddatetime", "receiveddatetime asc":
		desc = false
	default:
		return badRequest("ErrorInvalidUrlQuery", "The $orderby value is not supported: "+q.Get("$orderby"))
	}
	top, skip := s.Limits().DefaultPageSize, 0
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("ErrorInvalidUrlQuery", "$top must be between 1 and 1000.")
		}
		top = n
	}
	if v := q.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("ErrorInvalidUrlQuery", "$skip must be a non-negative integer.")
		}
		skip = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	var list []*message
	if req.route.folder != "" {
		f := mb.folder(req.route.folder)
		if f == nil {
			return errNotFound()
		}
		for _, m := range f.items {
			list = append(list, m)
		}
	} else {
		for _, m := range mb.messages {
			list = append(list, m)
		}
	}
	list = slices.DeleteFunc(list, func(m *message) bool { return !filter.match(m) })
	sortMessages(list, desc)
	page := list[min(skip, len(list)):min(skip+top, len(list))]
	basic := readBasicOnly(req)
	value := make([]obj, 0, len(page))
	for _, m := range page {
		value = append(value, s.renderMessage(m, sel, req.immutable, basic))
	}
	out := obj{{"@odata.context", s.base + "/v1.0/$metadata#users('" + req.person.ID + "')/messages"}, {"value", value}}
	if skip+top < len(list) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skip", strconv.Itoa(skip+top))
		next.Set("$top", strconv.Itoa(top))
		out = append(out, kv{"@odata.nextLink", s.base + req.r.URL.EscapedPath() + "?" + next.Encode()})
	}
	simcore.WriteJSON(req.w, http.StatusOK, out)
	return nil
}

func sortMessages(list []*message, desc bool) {
	slices.SortStableFunc(list, func(a, b *message) int {
		c := a.received.Compare(b.received)
		if c == 0 {
			c = strings.Compare(a.key, b.key)
		}
		if desc {
			return -c
		}
		return c
	})
}

func (s *Service) folderJSON(f *folder) obj {
	unread := 0
	for _, m := range f.items {
		if !m.isRead {
			unread++
		}
	}
	return obj{
		{"id", f.id}, {"displayName", f.name}, {"parentFolderId", "AAMkAGmsgfolderroot"},
		{"childFolderCount", 0}, {"unreadItemCount", unread}, {"totalItemCount", len(f.items)},
		{"sizeInBytes", 0}, {"isHidden", false},
	}
}

func (s *Service) listFolders(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.mailboxLocked(req.person)
	value := make([]obj, 0, len(mb.order))
	for _, f := range mb.order {
		value = append(value, s.folderJSON(f))
	}
	simcore.WriteJSON(req.w, http.StatusOK, obj{
		{"@odata.context", s.base + "/v1.0/$metadata#users('" + req.person.ID + "')/mailFolders"}, {"value", value},
	})
	return nil
}

func (s *Service) getFolder(req *request) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mailboxLocked(req.person).folder(req.route.folder)
	if f == nil {
		return errNotFound()
	}
	simcore.WriteJSON(req.w, http.StatusOK, append(obj{
		{"@odata.context", s.base + "/v1.0/$metadata#users('" + req.person.ID + "')/mailFolders/$entity"},
	}, s.folderJSON(f)...))
	return nil
}

// mediaType is a Content-Type's media type, lower case; "" when the header
// is missing or does not parse. Bad parameters still give the type, as
// mime.ParseMediaType does.
func mediaType(header string) string {
	mt, _, err := mime.ParseMediaType(header)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return ""
	}
	return mt
}
