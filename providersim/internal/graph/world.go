package graph

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// The outside world: every recipient of a sent message gets a copy, in the
// Inbox of a tenant user's mailbox or in the external inbox of any other
// address. The control API lets those addresses answer.

const defaultBounceReason = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"

// deliverLocked delivers a sent message to each of its recipients.
func (s *Service) deliverLocked(m *message, now time.Time, events *[]event) {
	for _, rcpt := range m.recipients() {
		addr := strings.ToLower(rcpt.Address)
		if reason, bad := s.undeliverable[addr]; bad {
			s.bounceLocked(m, []address{rcpt}, reason, now, events)
			continue
		}
		c := m.copyFor(now)
		if mb, ok := s.mailboxByAddressLocked(addr); ok {
			s.putLocked(mb, mb.wellKnown["inbox"], c, events)
		} else {
			c.external = addr
			c.key = s.newImmutableID()
			c.restID = c.key
			s.external[addr] = append(s.external[addr], c)
			s.byInternetID[c.internetID] = append(s.byInternetID[c.internetID], c)
		}
		s.counters.Inc("graph.delivered")
	}
}

// bounceLocked puts a non-delivery report for rcpts in the sender's Inbox.
func (s *Service) bounceLocked(orig *message, rcpts []address, reason string, now time.Time, events *[]event) *message {
	sender := orig.from
	if sender == nil {
		return nil
	}
	mb, ok := s.mailboxByAddressLocked(sender.Address)
	if !ok {
		return nil
	}
	postmaster := address{Name: "Microsoft Outlook", Address: "postmaster@" + domainOf(sender.Address)}
	addrs := make([]string, len(rcpts))
	for i, r := range rcpts {
		addrs[i] = r.Address
	}
	explanation := "The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message."
	if reason == blockedSenderReason {
		explanation = "Your message wasn't delivered because you've exceeded your sending limit. Try again later."
	}
	body := fmt.Sprintf("Your message to %s couldn't be delivered.\r\n\r\n"+
		"Delivery has failed to these recipients or groups:\r\n\r\n%s\r\n"+
		"%s\r\n\r\n"+
		"Diagnostic information for administrators:\r\n\r\n"+
		"Generating server: SIMPR01MB0001.namprd01.prod.outlook.com\r\n\r\n"+
		"%s\r\nRemote Server returned '%s'\r\n\r\n"+
		"Original message headers:\r\n\r\nMessage-ID: %s\r\nSubject: %s\r\nFrom: %s\r\nTo: %s\r\n",
		strings.Join(addrs, "; "), strings.Join(addrs, "\r\n"), explanation, strings.Join(addrs, "\r\n"), reason,
		orig.internetID, orig.subject, formatAddress(orig.from), formatAddresses(orig.to))
	ndr := &message{
		created: now, modified: now, received: now, sent: now,
		internetID:     s.newInternetID(),
		conversationID: orig.conversationID, conversationIndex: s.childIndex(orig.conversationIndex),
		subject:  "Undeliverable: " + orig.subject,
		bodyType: "text", body: body, importance: "normal",
		from: &postmaster, sender: &postmaster,
		to: []address{*sender},
		system: []header{
			{"References", orig.internetID},
			{"Auto-Submitted", "auto-replied"},
			{"X-MS-Exchange-Message-Is-Ndr", ""},
			{"X-Original-Message-ID", orig.internetID},
		},
		mimeType:    `multipart/report; report-type=delivery-status; boundary="sim-ndr"`,
		delivered:   true,
		attachments: []attachment{{name: orig.subject, contentType: "message/rfc822"}},
	}
	s.putLocked(mb, mb.wellKnown["inbox"], ndr, events)
	s.counters.Inc("graph.bounced")
	return ndr
}

// view renders a message for the control API.
func view(m *message) simclient.MailMessage {
	v := simclient.MailMessage{
		ID: m.restID, ImmutableID: m.key, InternetMessageID: m.internetID, ConversationID: m.conversationID,
		Subject: m.subject, ContentType: m.bodyType, Body: m.body, IsDraft: m.isDraft, ReceivedAt: m.received,
	}
	if m.owner != nil {
		v.Mailbox, v.Folder = m.owner.person.Mail, m.folder.wellKnown
		if v.Folder == "" {
			v.Folder = m.folder.id
		}
	} else {
		v.Mailbox, v.Folder = m.external, "inbox"
	}
	if m.from != nil {
		v.From = simclient.Address{Name: m.from.Name, Address: m.from.Address}
	}
	conv := func(list []address) []simclient.Address {
		var out []simclient.Address
		for _, a := range list {
			out = append(out, simclient.Address{Name: a.Name, Address: a.Address})
		}
		return out
	}
	v.To, v.Cc, v.Bcc = conv(m.to), conv(m.cc), conv(m.bcc)
	hs := m.transportHeaders()
	for _, h := range hs {
		v.Headers = append(v.Headers, simclient.Header{Name: h.Name, Value: h.Value})
	}
	return v
}

// Messages lists what an address holds: a tenant user's folder (inbox by
// default) or an external address's inbox.
func (s *Service) Messages(addr, folderName string) ([]simclient.MailMessage, error) {
	if folderName == "" {
		folderName = "inbox"
	}
	s.ReleaseOutbox()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*message
	mb, ok := s.mailboxByAddressLocked(addr)
	if !ok {
		// A tenant user may also be named by UPN or object id.
		if p, found := s.identity.LookupPerson(addr); found {
			mb, ok = s.mailboxLocked(p), true
		}
	}
	if ok {
		f := mb.folder(folderName)
		if f == nil {
			return nil, fmt.Errorf("%w: folder %s", simcore.ErrNotFound, folderName)
		}
		for _, m := range f.items {
			list = append(list, m)
		}
		sortMessages(list, false)
	} else {
		if !strings.EqualFold(folderName, "inbox") {
			return nil, fmt.Errorf("%w: external addresses have only an inbox", simcore.ErrInvalid)
		}
		list = s.external[strings.ToLower(addr)]
	}
	out := make([]simclient.MailMessage, 0, len(list))
	for _, m := range list {
		out = append(out, view(m))
	}
	return out, nil
}

// receivedCopyLocked finds the copy of a message that addr received.
func (s *Service) receivedCopyLocked(addr, internetID string) *message {
	for _, m := range s.byInternetID[internetID] {
		if m.external != "" && strings.EqualFold(m.external, addr) {
			return m
		}
		if m.owner != nil && m.owner.person.HasAddress(addr) && m.delivered {
			return m
		}
	}
	return nil
}

// sendFromOutsideLocked delivers a message written by an outside address
// (or by a tenant user through the control API, bypassing Graph).
func (s *Service) sendFromOutsideLocked(m *message, now time.Time, events *[]event) {
	m.sent, m.received, m.created, m.modified = now, now, now, now
	if m.internetID == "" {
		m.internetID = "<" + s.ids.LowerHex("outside-id", 12) + "@" + domainOf(addrOf(m.from)) + ">"
	}
	if m.importance == "" {
		m.importance = "normal"
	}
	s.deliverLocked(m, now, events)
}

func (s *Service) nameFor(orig *message, addr string) string {
	for _, list := range [][]address{orig.to, orig.cc, orig.bcc} {
		for _, a := range list {
			if strings.EqualFold(a.Address, addr) {
				return a.Name
			}
		}
	}
	return ""
}

// ExternalReply makes an address answer a message it received: same
// conversation, In-Reply-To and References set to the original.
func (s *Service) ExternalReply(in simclient.Reply) (simclient.MailMessage, error) {
	var events []event
	defer func() { s.dispatch(events) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	orig := s.receivedCopyLocked(in.From, in.InternetMessageID)
	if orig == nil {
		return simclient.MailMessage{}, fmt.Errorf("%w: %s did not receive %s", simcore.ErrNotFound, in.From, in.InternetMessageID)
	}
	now := s.clock.Now()
	from := address{Name: s.nameFor(orig, in.From), Address: strings.ToLower(in.From)}
	body := in.Body
	r, e := s.buildReply(orig, from, in.ReplyAll, replyRequest{Comment: &body}, now)
	if e != nil {
		return simclient.MailMessage{}, fmt.Errorf("%w: %s", simcore.ErrInvalid, e.message)
	}
	if strings.EqualFold(in.ContentType, "html") {
		r.bodyType = "html"
		r.body = quote(body, orig, "html")
	}
	s.sendFromOutsideLocked(r, now, &events)
	s.counters.Inc("graph.world.replies")
	return view(r), nil
}

// AutoReply makes an address answer a message with an out-of-office reply.
func (s *Service) AutoReply(in simclient.AutoReply) (simclient.MailMessage, error) {
	var events []event
	defer func() { s.dispatch(events) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	orig := s.receivedCopyLocked(in.From, in.InternetMessageID)
	if orig == nil || orig.from == nil {
		return simclient.MailMessage{}, fmt.Errorf("%w: %s did not receive %s", simcore.ErrNotFound, in.From, in.InternetMessageID)
	}
	now := s.clock.Now()
	from := address{Name: s.nameFor(orig, in.From), Address: strings.ToLower(in.From)}
	body := in.Body
	if body == "" {
		body = "Thank you for your message. I am out of the office with limited access to email and will reply when I return."
	}
	r := &message{
		bodyType: "text", body: body,
		subject:        "Automatic reply: " + orig.subject,
		conversationID: orig.conversationID, conversationIndex: s.childIndex(orig.conversationIndex),
		from: &from, sender: &from, to: []address{*orig.from},
		system: []header{
			{"In-Reply-To", orig.internetID},
			{"References", orig.internetID},
			{"Auto-Submitted", "auto-replied"},
			{"X-Auto-Response-Suppress", "All"},
			{"X-MS-Exchange-Inbox-Rules-Loop", strings.ToLower(in.From)},
		},
	}
	s.sendFromOutsideLocked(r, now, &events)
	s.counters.Inc("graph.world.autoReplies")
	return view(r), nil
}

// Bounce makes transport reject a sent message for a recipient: the
// recipient's copy disappears and an NDR lands in the sender's Inbox.
func (s *Service) Bounce(in simclient.Bounce) (simclient.MailMessage, error) {
	var events []event
	defer func() { s.dispatch(events) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	var orig *message
	for _, m := range s.byInternetID[in.InternetMessageID] {
		if m.owner != nil && !m.delivered && m.from != nil && m.owner.person.HasAddress(m.from.Address) {
			orig = m
			break
		}
	}
	if orig == nil {
		// Sent without saving to Sent Items: bounce from a delivered copy.
		for _, m := range s.byInternetID[in.InternetMessageID] {
			if m.from != nil {
				if _, ok := s.mailboxByAddressLocked(m.from.Address); ok {
					orig = m
					break
				}
			}
		}
	}
	if orig == nil {
		return simclient.MailMessage{}, fmt.Errorf("%w: no message %s sent from a simulated mailbox", simcore.ErrNotFound, in.InternetMessageID)
	}
	rcpts := orig.recipients()
	rcpt := address{}
	switch {
	case in.Recipient == "" && len(rcpts) > 0:
		rcpt = rcpts[0]
	default:
		for _, a := range rcpts {
			if strings.EqualFold(a.Address, in.Recipient) {
				rcpt = a
			}
		}
	}
	if rcpt.Address == "" {
		return simclient.MailMessage{}, fmt.Errorf("%w: %s is not a recipient of %s", simcore.ErrInvalid, in.Recipient, in.InternetMessageID)
	}
	reason := in.Reason
	if reason == "" {
		reason = defaultBounceReason
	}
	addr := strings.ToLower(rcpt.Address)
	s.external[addr] = slices.DeleteFunc(s.external[addr], func(m *message) bool {
		if m.internetID != in.InternetMessageID {
			return false
		}
		s.byInternetID[m.internetID] = slices.DeleteFunc(s.byInternetID[m.internetID], func(x *message) bool { return x == m })
		return true
	})
	now := s.clock.Now()
	ndr := s.bounceLocked(orig, []address{rcpt}, reason, now, &events)
	if ndr == nil {
		return simclient.MailMessage{}, fmt.Errorf("%w: the sender is not a simulated mailbox", simcore.ErrInvalid)
	}
	return view(ndr), nil
}

// Inbound delivers a message from the outside world to its recipients. An
// In-Reply-To header threads it into the conversation it answers.
func (s *Service) Inbound(in simclient.InboundMessage) (simclient.MailMessage, error) {
	if !validAddress(in.From.Address) || len(in.To) == 0 {
		return simclient.MailMessage{}, fmt.Errorf("%w: from and to are required", simcore.ErrInvalid)
	}
	var events []event
	defer func() { s.dispatch(events) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	from := address{Name: in.From.Name, Address: in.From.Address}
	m := &message{subject: in.Subject, body: in.Body, bodyType: "text", from: &from, sender: &from}
	if strings.EqualFold(in.ContentType, "html") {
		m.bodyType = "html"
	}
	for _, list := range []struct {
		in  []simclient.Address
		out *[]address
	}{{in.To, &m.to}, {in.Cc, &m.cc}} {
		for _, a := range list.in {
			if !validAddress(a.Address) {
				return simclient.MailMessage{}, fmt.Errorf("%w: address %q", simcore.ErrInvalid, a.Address)
			}
			*list.out = append(*list.out, address{Name: a.Name, Address: a.Address})
		}
	}
	for _, h := range in.Headers {
		switch {
		case strings.EqualFold(h.Name, "Message-ID"):
			m.internetID = h.Value
		case strings.HasPrefix(strings.ToLower(h.Name), "x-"):
			m.custom = append(m.custom, header{h.Name, h.Value})
		default:
			m.system = append(m.system, header{h.Name, h.Value})
		}
	}
	m.conversationID, m.conversationIndex = s.newConversation()
	if parent := m.headerValue("In-Reply-To"); parent != "" {
		if copies := s.byInternetID[parent]; len(copies) > 0 {
			m.conversationID = copies[0].conversationID
			m.conversationIndex = s.childIndex(copies[0].conversationIndex)
		}
	}
	s.sendFromOutsideLocked(m, now, &events)
	s.counters.Inc("graph.world.inbound")
	return view(m), nil
}

// SetUndeliverable makes every later delivery to addr bounce (reason empty:
// deliverable again).
func (s *Service) SetUndeliverable(addr, reason string, undeliverable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr = strings.ToLower(addr)
	if !undeliverable {
		delete(s.undeliverable, addr)
		return
	}
	if reason == "" {
		reason = defaultBounceReason
	}
	s.undeliverable[addr] = reason
}
