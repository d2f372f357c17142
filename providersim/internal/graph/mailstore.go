package graph

import (
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
)

// The mail store: mailboxes of tenant users (folders with a change log for
// delta), external inboxes for every other address, and an index by
// internetMessageId for the control API.

type address struct {
	Name    string
	Address string
}

type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type attachment struct {
	id          string
	name        string
	contentType string
	size        int
}

type message struct {
	key       string // immutable id
	restID    string // changes when the message moves to another folder
	owner     *mailbox
	external  string // the external address whose copy this is
	folder    *folder
	changeKey string

	created, modified, received, sent time.Time

	internetID        string
	conversationID    string
	conversationIndex []byte
	subject           string
	bodyType          string // "text" or "html"
	body              string
	from, sender      *address
	to, cc, bcc       []address
	replyTo           []address
	custom            []header // x- headers set by the client
	system            []header // In-Reply-To, References, Auto-Submitted, ...
	importance        string
	isDraft, isRead   bool
	delivered         bool // a received copy: carries transport headers
	attachments       []attachment
	mimeType          string // overrides the Content-Type transport header
}

type changeKind int

const (
	changeAdded changeKind = iota
	changeUpdated
	changeRemoved
)

type change struct {
	seq    int64
	key    string
	restID string
	kind   changeKind
}

type folder struct {
	id        string
	name      string
	wellKnown string
	items     map[string]*message // by key
	seq       int64
	log       []change
}

type mailbox struct {
	person    simcore.Person
	folders   map[string]*folder // by id
	wellKnown map[string]*folder // by lower-case well-known name
	order     []*folder
	messages  map[string]*message // by key
	rest      map[string]string   // rest id -> key
}

// event is a change that subscriptions may be told about.
type event struct {
	mailboxID  string
	folderID   string
	key        string
	restID     string
	changeKey  string
	changeType string // created, updated, deleted
}

var wellKnownFolders = []struct{ name, display string }{
	{"inbox", "Inbox"}, {"drafts", "Drafts"}, {"sentitems", "Sent Items"},
	{"deleteditems", "Deleted Items"}, {"outbox", "Outbox"}, {"junkemail", "Junk Email"},
	{"archive", "Archive"},
}

// mailboxLocked returns (creating on first use) the mailbox of a user.
func (s *Service) mailboxLocked(p simcore.Person) *mailbox {
	if mb := s.mailboxes[p.ID]; mb != nil {
		mb.person = p // addresses may have changed
		return mb
	}
	mb := &mailbox{
		person:    p,
		folders:   map[string]*folder{},
		wellKnown: map[string]*folder{},
		messages:  map[string]*message{},
		rest:      map[string]string{},
	}
	for _, wk := range wellKnownFolders {
		f := &folder{
			id:        "AAMkAG" + base64.URLEncoding.EncodeToString(s.ids.Bytes("folder", 42)),
			name:      wk.display,
			wellKnown: wk.name,
			items:     map[string]*message{},
		}
		mb.folders[f.id] = f
		mb.wellKnown[wk.name] = f
		mb.order = append(mb.order, f)
	}
	s.mailboxes[p.ID] = mb
	return mb
}

// mailboxByAddressLocked finds the mailbox an SMTP address delivers to.
func (s *Service) mailboxByAddressLocked(addr string) (*mailbox, bool) {
	p, ok := s.identity.LookupMailbox(addr)
	if !ok {
		return nil, false
	}
	return s.mailboxLocked(p), true
}

func (mb *mailbox) folder(idOrName string) *folder {
	if f := mb.wellKnown[strings.ToLower(idOrName)]; f != nil {
		return f
	}
	return mb.folders[idOrName]
}

// find returns a message by immutable or REST id.
func (mb *mailbox) find(id string) *message {
	if m := mb.messages[id]; m != nil {
		return m
	}
	if key, ok := mb.rest[id]; ok {
		return mb.messages[key]
	}
	return nil
}

// lookup finds a message by id for a Graph call: an id that cannot be an
// Exchange item id is 400 ErrorInvalidIdMalformed, an unknown one 404.
func (mb *mailbox) lookup(id string) (*message, *graphError) {
	if !wellFormedID(id) {
		return nil, badRequest("ErrorInvalidIdMalformed", "Id is malformed.")
	}
	if m := mb.find(id); m != nil {
		return m, nil
	}
	return nil, errNotFound()
}

// wellFormedID reports whether id could be an Exchange item id: base64
// (standard or URL alphabet) of a binary id of some length.
func wellFormedID(id string) bool {
	if len(id) < 40 {
		return false
	}
	trimmed := strings.TrimRight(id, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if _, err := enc.DecodeString(trimmed); err == nil {
			return true
		}
	}
	return false
}

func (f *folder) record(key, restID string, kind changeKind) {
	f.seq++
	f.log = append(f.log, change{seq: f.seq, key: key, restID: restID, kind: kind})
}

func (s *Service) newRestID() string {
	return "AAMkAGI2" + base64.URLEncoding.EncodeToString(s.ids.Bytes("message", 66))
}

func (s *Service) newImmutableID() string {
	return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + base64.URLEncoding.EncodeToString(s.ids.Bytes("immutable", 42))
}

func (s *Service) newChangeKey() string {
	return base64.StdEncoding.EncodeToString(s.ids.Bytes("changekey", 15))
}

func (s *Service) newInternetID() string {
	return "<" + s.ids.Hex("internet-id", 16) + "@SIMPR01MB" + s.ids.Hex("internet-host", 2) + ".namprd01.prod.outlook.com>"
}

func (s *Service) newConversation() (string, []byte) {
	id := "AAQkAGI2" + base64.URLEncoding.EncodeToString(s.ids.Bytes("conversation", 30))
	idx := append([]byte{0x01}, s.ids.Bytes("conversation-index", 21)...)
	return id, idx
}

// childIndex extends a conversation index for a reply, as Outlook does.
func (s *Service) childIndex(parent []byte) []byte {
	return append(slices.Clone(parent), s.ids.Bytes("conversation-index", 5)...)
}

// putLocked files a new message in a folder of a mailbox.
func (s *Service) putLocked(mb *mailbox, f *folder, m *message, events *[]event) {
	if m.key == "" {
		m.key = s.newImmutableID()
	}
	m.restID = s.newRestID()
	m.owner, m.folder = mb, f
	m.changeKey = s.newChangeKey()
	mb.messages[m.key] = m
	mb.rest[m.restID] = m.key
	f.items[m.key] = m
	f.record(m.key, m.restID, changeAdded)
	s.byInternetID[m.internetID] = append(s.byInternetID[m.internetID], m)
	*events = append(*events, event{mailboxID: mb.person.ID, folderID: f.id, key: m.key, restID: m.restID, changeKey: m.changeKey, changeType: "created"})
}

// moveLocked moves a message to another folder; its REST id changes, its
// immutable id does not.
func (s *Service) moveLocked(m *message, to *folder, now time.Time, events *[]event) {
	mb, from := m.owner, m.folder
	if from == to {
		return
	}
	delete(from.items, m.key)
	from.record(m.key, m.restID, changeRemoved)
	*events = append(*events, event{mailboxID: mb.person.ID, folderID: from.id, key: m.key, restID: m.restID, changeType: "deleted"})
	delete(mb.rest, m.restID)
	m.restID = s.newRestID()
	mb.rest[m.restID] = m.key
	m.folder = to
	m.modified = now
	m.changeKey = s.newChangeKey()
	to.items[m.key] = m
	to.record(m.key, m.restID, changeAdded)
	*events = append(*events, event{mailboxID: mb.person.ID, folderID: to.id, key: m.key, restID: m.restID, changeKey: m.changeKey, changeType: "created"})
}

// touchLocked records an update of a message.
func (s *Service) touchLocked(m *message, now time.Time, events *[]event) {
	m.modified = now
	m.changeKey = s.newChangeKey()
	m.folder.record(m.key, m.restID, changeUpdated)
	*events = append(*events, event{mailboxID: m.owner.person.ID, folderID: m.folder.id, key: m.key, restID: m.restID, changeKey: m.changeKey, changeType: "updated"})
}

// removeLocked deletes a message for good.
func (s *Service) removeLocked(m *message, events *[]event) {
	mb, f := m.owner, m.folder
	delete(f.items, m.key)
	f.record(m.key, m.restID, changeRemoved)
	delete(mb.messages, m.key)
	delete(mb.rest, m.restID)
	s.byInternetID[m.internetID] = slices.DeleteFunc(s.byInternetID[m.internetID], func(x *message) bool { return x == m })
	*events = append(*events, event{mailboxID: mb.person.ID, folderID: f.id, key: m.key, restID: m.restID, changeType: "deleted"})
}

func (m *message) recipients() []address {
	var out []address
	seen := map[string]bool{}
	for _, list := range [][]address{m.to, m.cc, m.bcc} {
		for _, a := range list {
			k := strings.ToLower(a.Address)
			if !seen[k] {
				seen[k] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// copyFor makes the recipient's copy of a sent message.
func (m *message) copyFor(now time.Time) *message {
	c := &message{
		created: now, modified: now, received: now, sent: m.sent,
		internetID: m.internetID, conversationID: m.conversationID,
		conversationIndex: slices.Clone(m.conversationIndex),
		subject:           m.subject, bodyType: m.bodyType, body: m.body,
		from: m.from, sender: m.sender,
		to: slices.Clone(m.to), cc: slices.Clone(m.cc), replyTo: slices.Clone(m.replyTo),
		custom: slices.Clone(m.custom), system: slices.Clone(m.system),
		importance: m.importance, delivered: true, attachments: slices.Clone(m.attachments),
		mimeType: m.mimeType,
	}
	return c
}

func (m *message) headerValue(name string) string {
	for _, list := range [][]header{m.system, m.custom} {
		for _, h := range list {
			if strings.EqualFold(h.Name, name) {
				return h.Value
			}
		}
	}
	return ""
}

// transportHeaders are the internet headers of a delivered copy.
func (m *message) transportHeaders() []header {
	hs := []header{
		{"Received", "from " + domainOf(addrOf(m.from)) + " by SIMPR01MB0001.namprd01.prod.outlook.com with HTTPS; " + m.sent.Format(time.RFC1123Z)},
		{"Content-Type", m.contentTypeHeader()},
		{"From", formatAddress(m.from)},
		{"To", formatAddresses(m.to)},
	}
	if len(m.cc) > 0 {
		hs = append(hs, header{"CC", formatAddresses(m.cc)})
	}
	hs = append(hs,
		header{"Subject", m.subject},
		header{"Thread-Topic", threadTopic(m.subject)},
		header{"Thread-Index", base64.StdEncoding.EncodeToString(m.conversationIndex)},
		header{"Date", m.sent.Format(time.RFC1123Z)},
		header{"Message-ID", m.internetID},
	)
	hs = append(hs, m.system...)
	hs = append(hs, header{"MIME-Version", "1.0"})
	hs = append(hs, m.custom...)
	return hs
}

func (m *message) contentTypeHeader() string {
	if m.mimeType != "" {
		return m.mimeType
	}
	if m.bodyType == "html" {
		return `text/html; charset="utf-8"`
	}
	return `text/plain; charset="utf-8"`
}

func addrOf(a *address) string {
	if a == nil {
		return ""
	}
	return a.Address
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

func formatAddress(a *address) string {
	if a == nil {
		return ""
	}
	if a.Name == "" {
		return a.Address
	}
	return `"` + a.Name + `" <` + a.Address + `>`
}

func formatAddresses(list []address) string {
	parts := make([]string, len(list))
	for i := range list {
		parts[i] = formatAddress(&list[i])
	}
	return strings.Join(parts, ", ")
}

// threadTopic strips reply and forward prefixes from a subject.
func threadTopic(subject string) string {
	for {
		low := strings.ToLower(subject)
		trimmed := false
		for _, p := range []string{"re:", "fw:", "fwd:", "automatic reply:", "undeliverable:"} {
			if strings.HasPrefix(low, p) {
				subject = strings.TrimSpace(subject[len(p):])
				trimmed = true
				break
			}
		}
		if !trimmed {
			return subject
		}
	}
}
