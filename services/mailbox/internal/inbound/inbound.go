// Package inbound records what arrives in the watched Inboxes, once each:
// it fetches a message a notification named (a job per notification), or
// finds it by a delta catch-up of the Inbox (on a schedule, and after any
// gap: a missed notification, a new subscription, a lost cursor), then
// classifies it (package classify), matches it to what Tandem sent
// (package match), records it (unique per mailbox by internetMessageId, so
// a repeated notification or a catch-up that finds it again records
// nothing) and, in the same transaction, publishes message.received. A
// permanent bounce makes the address undeliverable for the organization.
//
// The catch-up's delta link is the mailbox's sync cursor in Redis. A
// cursor that Redis lost, or that Graph no longer knows (410,
// syncStateNotFound), starts a full round over the Inbox since it was first
// watched; what it finds that is recorded already is skipped before it is
// fetched.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/classify"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/match"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// ErrAddressesUnknown is a mailbox whose own addresses Graph has not told
// yet: matching waits for them.
var ErrAddressesUnknown = errors.New("inbound: the mailbox's own addresses are not known yet")

// EventReceived is the type of the event published for each inbound
// message that answers (or bounced) something Tandem sent.
const EventReceived = "message.received"

// Kinds recorded, beside classify's.
const (
	// KindUnrelated is mail that answers nothing Tandem sent.
	KindUnrelated = "unrelated"
)

// How a message was first heard of.
const (
	ByNotification = "notification"
	ByCatchUp      = "catch_up"
)

// watchMargin is how much before the watch began mail still counts:
// Graph's receivedDateTime has whole seconds and Microsoft's clock is not
// ours.
const watchMargin = 5 * time.Minute

// snippetLen is how much of a body travels in the event and the record.
const snippetLen = 500

// Graph is what the package needs of the Graph client.
type Graph interface {
	GetInboundMessage(ctx context.Context, mb graph.Mailbox, id string) (graph.InboundMessage, error)
	InboxDelta(ctx context.Context, mb graph.Mailbox, link string, since time.Time) (graph.DeltaPage, error)
}

// Mailboxes reads the registry of connected mailboxes.
type Mailboxes interface {
	MailboxByID(ctx context.Context, id string) (store.Mailbox, error)
}

// SentLog finds the messages a mailbox sent (the send pipeline's record).
type SentLog interface {
	SentInConversation(ctx context.Context, mailboxID, conversationID string) ([]match.Sent, error)
	SentWithInternetIDs(ctx context.Context, mailboxID string, ids []string) ([]match.Sent, error)
	LastSentTo(ctx context.Context, mailboxID, addr string) (match.Sent, bool, error)
}

// Publisher publishes events in a transaction (platform/events).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// CursorStore keeps the sync cursors.
type CursorStore interface {
	Get(ctx context.Context, mailboxID string) (string, bool, error)
	Set(ctx context.Context, mailboxID, link string) error
	Drop(ctx context.Context, mailboxID string) error
}

// CatchUpRecorder records a finished catch-up, for health.
type CatchUpRecorder interface {
	CaughtUp(ctx context.Context, mailboxID string, at time.Time, full bool) error
}

// Inbox records inbound mail.
type Inbox struct {
	store     *Store
	graph     Graph
	mailboxes Mailboxes
	sent      SentLog
	pub       Publisher
	cursors   CursorStore
	caughtUp  CatchUpRecorder
	now       func() time.Time
	log       *slog.Logger
}

// Options wire an Inbox.
type Options struct {
	Store     *Store
	Graph     Graph
	Mailboxes Mailboxes
	Sent      SentLog
	Publisher Publisher
	Cursors   CursorStore
	CaughtUp  CatchUpRecorder
	Now       func() time.Time
	Log       *slog.Logger
}

// New returns the Inbox.
func New(o Options) *Inbox {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Inbox{store: o.Store, graph: o.Graph, mailboxes: o.Mailboxes, sent: o.Sent, pub: o.Publisher,
		cursors: o.Cursors, caughtUp: o.CaughtUp, now: o.Now, log: o.Log}
}

// watched returns a connected, watched mailbox and when its watch began;
// ok is false when there is nothing to do for it now.
func (in *Inbox) watched(ctx context.Context, mailboxID string) (store.Mailbox, time.Time, bool, error) {
	since, err := in.store.WatchSince(ctx, mailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Mailbox{}, time.Time{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, time.Time{}, false, err
	}
	m, err := in.mailboxes.MailboxByID(ctx, mailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Mailbox{}, time.Time{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, time.Time{}, false, err
	}
	if m.Status != store.StatusConnected {
		// No token: the catch-up after the reconnection finds it.
		return store.Mailbox{}, time.Time{}, false, nil
	}
	// Graph's times are whole seconds by its own clock.
	return m, since.Add(-watchMargin), true, nil
}

// Fetch reads a message a notification named and records it.
func (in *Inbox) Fetch(ctx context.Context, mailboxID, messageID string) error {
	m, since, ok, err := in.watched(ctx, mailboxID)
	if err != nil || !ok {
		return err
	}
	return in.receive(ctx, m, since, messageID, ByNotification)
}

// receive fetches one message and records it.
func (in *Inbox) receive(ctx context.Context, m store.Mailbox, since time.Time, messageID, via string) error {
	msg, err := in.graph.GetInboundMessage(ctx, graph.Mailbox{ConnectionID: m.ID}, messageID)
	if errors.Is(err, graph.ErrNotFound) {
		// Deleted or moved out of the Inbox since; nothing to record.
		in.log.InfoContext(ctx, "inbound message gone before it was read", slog.String("mailbox", m.ID))
		return nil
	}
	if err != nil {
		return err
	}
	if !msg.ReceivedAt.IsZero() && msg.ReceivedAt.Before(since) {
		return nil
	}
	r, err := in.understand(ctx, m, msg, via)
	if err != nil {
		return err
	}
	return in.store.InTx(ctx, func(tx pgx.Tx) error {
		inserted, err := in.store.Insert(ctx, tx, &r)
		if err != nil || !inserted {
			return err
		}
		if r.Kind == string(classify.Bounce) && r.BouncedRecipient != "" {
			if err := in.store.RecordBounce(ctx, tx, r); err != nil {
				return err
			}
		}
		in.log.InfoContext(ctx, "inbound message", slog.String("mailbox", m.ID), slog.String("inbound", r.ID),
			slog.String("kind", r.Kind), slog.String("marker", r.Marker), slog.String("match", r.MatchMethod), slog.String("via", via))
		if r.SentMessageID == "" {
			return nil
		}
		_, err = in.pub.Publish(ctx, tx, events.Event{
			Type: EventReceived, OrganizationID: r.OrgID, AggregateID: r.SentMessageID, Payload: received(r),
		})
		return err
	})
}

// understand classifies and matches a message into a record.
func (in *Inbox) understand(ctx context.Context, m store.Mailbox, msg graph.InboundMessage, via string) (Record, error) {
	text, unique := msg.Body, msg.UniqueBody
	if msg.BodyHTML {
		text = htmlText(text)
	}
	if msg.UniqueBodyHTML {
		unique = htmlText(unique)
	}
	headers := make([]classify.Header, 0, len(msg.Headers))
	for _, h := range msg.Headers {
		headers = append(headers, classify.Header{Name: h.Name, Value: h.Value})
	}
	c := classify.Classify(classify.Message{From: msg.From, Headers: headers, MessageClass: msg.MessageClass, Body: text})
	hdr := func(name string) string {
		for _, h := range msg.Headers {
			if strings.EqualFold(h.Name, name) {
				return h.Value
			}
		}
		return ""
	}
	refs := hdr("References")
	if c.Bounce != nil && c.Bounce.OriginalMessageID != "" {
		refs += " " + c.Bounce.OriginalMessageID
	}
	own := match.OwnAddresses(m.Address, m.OwnAddresses)
	if len(own) == 0 {
		// The mailbox's addresses come from Graph in their own job right
		// after it connects; its sign-in name is not one of them.
		return Record{}, ErrAddressesUnknown
	}
	res, err := match.Match(ctx, sentOf{in.sent, m.ID}, own, match.Inbound{
		ConversationID: msg.ConversationID, InReplyTo: hdr("In-Reply-To"), References: refs,
		From: msg.From, ByAddress: c.Kind != classify.Bounce,
	})
	if err != nil {
		return Record{}, err
	}
	// An answer cannot come before the message it answers: an old mail
	// from the same person is not a reply to a newer one (Graph's times
	// are whole seconds).
	if res.Method == match.BySender && !msg.ReceivedAt.IsZero() && msg.ReceivedAt.Before(res.Sent.SentAt.Truncate(time.Second)) {
		res = match.Result{}
	}
	internetID := msg.InternetMessageID
	if internetID == "" {
		internetID = "graph:" + msg.ID // none in the headers: the message is still one message
	}
	r := Record{
		OrgID: m.OrgID, MailboxID: m.ID, GraphMessageID: msg.ID, InternetMessageID: internetID,
		ConversationID: msg.ConversationID, Kind: string(c.Kind), Marker: c.Marker, FromAddress: match.Address(msg.From),
		Subject: truncate(msg.Subject, 998), Snippet: snippet(unique, msg.Preview, text), ReceivedAt: msg.ReceivedAt, DetectedBy: via,
		MatchMethod: string(res.Method), SentMessageID: res.Sent.ID, SentIdempotencyKey: res.Sent.IdempotencyKey,
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = in.now()
	}
	if !res.Matched() {
		r.Kind = KindUnrelated
	}
	if c.Bounce != nil {
		r.BouncedRecipient = bouncedRecipient(c.Bounce.Recipients, res.Sent.Recipients)
		r.BounceStatus = c.Bounce.Status
		r.BouncePermanent = c.Bounce.Permanent && r.BouncedRecipient != ""
	}
	return r, nil
}

// bouncedRecipient is the failed recipient of the sent message: the one the
// report names, else the message's only recipient.
func bouncedRecipient(reported, sentTo []string) string {
	for _, a := range reported {
		if len(sentTo) == 0 || slices.Contains(sentTo, a) {
			return a
		}
	}
	if len(reported) == 0 && len(sentTo) == 1 {
		return sentTo[0]
	}
	return ""
}

// received is the event's payload.
func received(r Record) *mailboxv1.MessageReceived {
	kinds := map[string]mailboxv1.InboundKind{
		string(classify.Reply): mailboxv1.InboundKind_INBOUND_KIND_REPLY, string(classify.AutoReply): mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY,
		string(classify.Bounce): mailboxv1.InboundKind_INBOUND_KIND_BOUNCE, KindUnrelated: mailboxv1.InboundKind_INBOUND_KIND_UNRELATED,
	}
	return &mailboxv1.MessageReceived{
		InboundMessageId: r.ID, ConnectionId: r.MailboxID, Kind: kinds[r.Kind], SentMessageId: r.SentMessageID,
		SentIdempotencyKey: r.SentIdempotencyKey, ConversationId: r.ConversationID, InternetMessageId: r.InternetMessageID,
		FromAddress: r.FromAddress, Subject: r.Subject, Snippet: r.Snippet, BouncedRecipient: r.BouncedRecipient,
		BouncePermanent: r.BouncePermanent, ReceiveTime: timestamppb.New(r.ReceivedAt),
	}
}

// sentOf binds a SentLog to one mailbox for matching.
type sentOf struct {
	log       SentLog
	mailboxID string
}

func (s sentOf) SentInConversation(ctx context.Context, conv string) ([]match.Sent, error) {
	return s.log.SentInConversation(ctx, s.mailboxID, conv)
}

func (s sentOf) SentWithInternetIDs(ctx context.Context, ids []string) ([]match.Sent, error) {
	return s.log.SentWithInternetIDs(ctx, s.mailboxID, ids)
}

func (s sentOf) LastSentTo(ctx context.Context, addr string) (match.Sent, bool, error) {
	return s.log.LastSentTo(ctx, s.mailboxID, addr)
}

// CatchUp runs a delta round over a mailbox's Inbox from its cursor (a full
// round without one) and records every message it did not know.
func (in *Inbox) CatchUp(ctx context.Context, mailboxID string) error {
	m, since, ok, err := in.watched(ctx, mailboxID)
	if err != nil || !ok {
		return err
	}
	gm := graph.Mailbox{ConnectionID: m.ID}
	link, ok, err := in.cursors.Get(ctx, m.ID)
	if err != nil {
		return err
	}
	full, reset := !ok, false
	found := 0
	for {
		page, err := in.graph.InboxDelta(ctx, gm, link, since)
		if errors.Is(err, graph.ErrSyncReset) && link != "" && !reset {
			in.log.WarnContext(ctx, "sync cursor no longer valid; full resync", slog.String("mailbox", m.ID))
			if err := in.cursors.Drop(ctx, m.ID); err != nil {
				return err
			}
			link, full, reset = "", true, true
			continue
		}
		if err != nil {
			return err
		}
		n, err := in.receivePage(ctx, m, since, page.Messages)
		if err != nil {
			return err
		}
		found += n
		if page.NextLink != "" {
			link = page.NextLink
			continue
		}
		if err := in.cursors.Set(ctx, m.ID, page.DeltaLink); err != nil {
			return err
		}
		break
	}
	if err := in.caughtUp.CaughtUp(ctx, m.ID, in.now(), full); err != nil {
		return err
	}
	in.log.InfoContext(ctx, "inbox caught up", slog.String("mailbox", m.ID), slog.Bool("full", full), slog.Int("new", found))
	return nil
}

// receivePage records the messages of a delta page that are new here.
func (in *Inbox) receivePage(ctx context.Context, m store.Mailbox, since time.Time, list []graph.DeltaMessage) (int, error) {
	var ids []string
	for _, d := range list {
		if !d.Removed && d.InternetMessageID != "" {
			ids = append(ids, d.InternetMessageID)
		}
	}
	known, err := in.store.Known(ctx, m.ID, ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		if d.Removed || known[d.InternetMessageID] || (!d.ReceivedAt.IsZero() && d.ReceivedAt.Before(since)) {
			continue
		}
		if err := in.receive(ctx, m, since, d.ID, ByCatchUp); err != nil {
			return n, fmt.Errorf("inbound: catch-up of %s: %w", m.ID, err)
		}
		n++
	}
	return n, nil
}

var (
	tags       = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	whitespace = regexp.MustCompile(`\s+`)
)

// htmlText is an HTML body's text, roughly: enough to read a report's
// status lines and to show a snippet.
func htmlText(s string) string {
	s = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p>", "\n", "</div>", "\n").Replace(s)
	return html.UnescapeString(tags.ReplaceAllString(s, " "))
}

// snippet is the start of what the sender wrote, on one line: Graph's
// uniqueBody (the message without the quoted thread) when it has one, else
// the preview, else the body.
func snippet(unique, preview, text string) string {
	s := unique
	for _, next := range []string{preview, text} {
		if strings.TrimSpace(s) == "" {
			s = next
		}
	}
	return truncate(strings.TrimSpace(whitespace.ReplaceAllString(s, " ")), snippetLen)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
