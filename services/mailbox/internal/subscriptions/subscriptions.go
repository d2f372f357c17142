// Package subscriptions keeps one Graph change-notification subscription on
// each connected mailbox's Inbox, and takes the notifications the gateway
// hands over.
//
// The lifecycle (providers.md §3.8): a subscription is created when the
// mailbox connects (a job enqueued in the transaction that records the
// connection), renewed a day before it expires, reauthorised on
// reauthorizationRequired, recreated on subscriptionRemoved or when Graph
// no longer knows it; missed, a recreation and any failure to take
// notifications end in a delta catch-up (package inbound), which is the
// source of truth.
//
// The clientState is 32 random bytes made for each subscription; only its
// SHA-256 is stored, and a notification's clientState is hashed and
// compared in constant time. A wrong one is ignored, logged and counted,
// and changes nothing.
package subscriptions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Graph is what the package needs of the Graph client.
type Graph interface {
	CreateInboxSubscription(ctx context.Context, mb graph.Mailbox, s graph.NewSubscription) (graph.Subscription, error)
	RenewSubscription(ctx context.Context, mb graph.Mailbox, id string, expires time.Time) (graph.Subscription, error)
	ReauthorizeSubscription(ctx context.Context, mb graph.Mailbox, id string) error
	DeleteSubscription(ctx context.Context, mb graph.Mailbox, id string) error
	ListSubscriptions(ctx context.Context, mb graph.Mailbox) ([]graph.Subscription, error)
}

// Mailboxes reads the registry of connected mailboxes.
type Mailboxes interface {
	MailboxByID(ctx context.Context, id string) (store.Mailbox, error)
}

// Jobs enqueues River jobs.
type Jobs interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Beginner opens transactions (the pool).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Lifetime is how long a subscription is asked for: Graph's maximum less a
// margin for clocks.
const Lifetime = graph.MaxSubscriptionLifetime - time.Hour

// Subscriptions keeps the mailboxes' subscriptions.
type Subscriptions struct {
	store     *Store
	db        Beginner
	graph     Graph
	mailboxes Mailboxes
	jobs      Jobs
	cfg       Config
	now       func() time.Time
	log       *slog.Logger

	notifications metric.Int64Counter
}

// Options wire Subscriptions.
type Options struct {
	Store     *Store
	DB        Beginner
	Graph     Graph
	Mailboxes Mailboxes
	Jobs      Jobs
	Config    Config
	Now       func() time.Time
	Log       *slog.Logger
}

// New returns the subscriptions.
func New(o Options) (*Subscriptions, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	counter, err := otel.Meter("github.com/tandemhq/tandem/services/mailbox/internal/subscriptions").Int64Counter(
		"tandem.mailbox.notifications", metric.WithDescription("Graph notifications handed over by the gateway, by outcome"))
	if err != nil {
		return nil, fmt.Errorf("subscriptions: counter: %w", err)
	}
	return &Subscriptions{store: o.Store, db: o.DB, graph: o.Graph, mailboxes: o.Mailboxes, jobs: o.Jobs, cfg: o.Config,
		now: o.Now, log: o.Log, notifications: counter}, nil
}

// ensureUnique lets one ensure job per mailbox wait or run at a time.
var ensureUnique = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable,
}}

// EnsureArgs makes sure a mailbox has a live subscription: renewed, or
// created (again).
type EnsureArgs struct {
	MailboxID string `json:"mailbox_id"`
	// Recreate drops the subscription Tandem has and makes a new one.
	Recreate bool `json:"recreate,omitempty"`
}

// Kind implements river.JobArgs.
func (EnsureArgs) Kind() string { return "inbox_subscription_ensure" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (EnsureArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: ensureUnique} }

// LifecycleArgs is a lifecycle notification to act on.
type LifecycleArgs struct {
	MailboxID      string `json:"mailbox_id"`
	SubscriptionID string `json:"subscription_id"`
	Event          string `json:"event"`
}

// Kind implements river.JobArgs.
func (LifecycleArgs) Kind() string { return "inbox_subscription_lifecycle" }

// Lifecycle events (providers.md §3.8).
const (
	ReauthorizationRequired = "reauthorizationRequired"
	SubscriptionRemoved     = "subscriptionRemoved"
	Missed                  = "missed"
)

// Watch starts watching a mailbox that just connected, in the transaction
// that records the connection: the mailboxes registry's OnConnected hook.
func (s *Subscriptions) Watch(ctx context.Context, tx pgx.Tx, m store.Mailbox) error {
	if err := s.store.Start(ctx, tx, m.ID, m.OrgID, s.now()); err != nil {
		return fmt.Errorf("subscriptions: watch %s: %w", m.ID, err)
	}
	if _, err := s.jobs.InsertTx(ctx, tx, EnsureArgs{MailboxID: m.ID}, nil); err != nil {
		return fmt.Errorf("subscriptions: enqueue the subscription of %s: %w", m.ID, err)
	}
	// A mailbox that comes back from reconnect_required may have mail
	// whose notifications found no token.
	if _, err := s.jobs.InsertTx(ctx, tx, inbound.CatchUpArgs{MailboxID: m.ID}, nil); err != nil {
		return fmt.Errorf("subscriptions: enqueue a catch-up of %s: %w", m.ID, err)
	}
	return nil
}

// Ensure renews a mailbox's subscription, or creates one, then asks for a
// catch-up when there may have been a gap.
func (s *Subscriptions) Ensure(ctx context.Context, mailboxID string, recreate bool) error {
	w, err := s.store.Get(ctx, mailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil // not watched (never connected here)
	}
	if err != nil {
		return err
	}
	m, err := s.mailboxes.MailboxByID(ctx, mailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	gm := graph.Mailbox{ConnectionID: m.ID}
	if m.Status != store.StatusConnected {
		// No token to call Graph with: stop until the mailbox connects
		// again (its OnConnected hook starts over). The subscription, if
		// any, expires on its own.
		return s.store.SetStatus(ctx, mailboxID, StatusStopped, "the mailbox is not connected")
	}
	if w.Status == StatusActive && w.SubscriptionID != "" && !recreate {
		sub, err := s.graph.RenewSubscription(ctx, gm, w.SubscriptionID, s.now().Add(Lifetime))
		if err == nil {
			if err := s.store.Renewed(ctx, mailboxID, expiry(sub, s.now())); err != nil {
				return err
			}
			s.log.InfoContext(ctx, "inbox subscription renewed", slog.String("mailbox", mailboxID), slog.Time("expires", expiry(sub, s.now())))
			return nil
		}
		if !errors.Is(err, graph.ErrNotFound) {
			return err
		}
		s.log.WarnContext(ctx, "inbox subscription gone at Graph; creating a new one", slog.String("mailbox", mailboxID))
	}
	return s.create(ctx, gm, w)
}

// create makes a new subscription. Ours left at Graph (a creation whose
// answer was lost, the one being replaced) are deleted first, so a mailbox
// has one; its secret's hash is stored before Graph is asked, since the
// handshake and the first notifications may come at once.
func (s *Subscriptions) create(ctx context.Context, gm graph.Mailbox, w Watch) error {
	existing, err := s.graph.ListSubscriptions(ctx, gm)
	if err != nil {
		return err
	}
	for _, sub := range existing {
		if strings.EqualFold(sub.NotificationURL, s.cfg.NotificationURL()) {
			if err := s.graph.DeleteSubscription(ctx, gm, sub.ID); err != nil {
				return err
			}
		}
	}
	secret, hash, err := newClientState()
	if err != nil {
		return err
	}
	if err := s.store.Prepare(ctx, w.MailboxID, hash); err != nil {
		return err
	}
	sub, err := s.graph.CreateInboxSubscription(ctx, gm, graph.NewSubscription{
		NotificationURL: s.cfg.NotificationURL(), LifecycleURL: s.cfg.LifecycleURL(), ClientState: secret, Expires: s.now().Add(Lifetime),
	})
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) && ge.Permanent() {
			// Refused (the validation failed, the URL is not allowed):
			// recorded for health, retried on schedule.
			if serr := s.store.SetStatus(ctx, w.MailboxID, StatusFailed, ge.Reason()); serr != nil {
				return errors.Join(err, serr)
			}
			s.log.ErrorContext(ctx, "graph refused the inbox subscription", slog.String("mailbox", w.MailboxID), slog.Any("error", err))
			return river.JobCancel(err)
		}
		return err
	}
	if err := s.store.Activate(ctx, w.MailboxID, sub.ID, expiry(sub, s.now())); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "inbox subscription created", slog.String("mailbox", w.MailboxID), slog.String("subscription", sub.ID))
	// Whatever arrived before it, or since the one it replaces, is found
	// by delta.
	if _, err := s.jobs.Insert(ctx, inbound.CatchUpArgs{MailboxID: w.MailboxID}, nil); err != nil {
		return fmt.Errorf("subscriptions: enqueue a catch-up: %w", err)
	}
	return nil
}

// expiry is the subscription's expiry as Graph gave it, else what was asked.
func expiry(sub graph.Subscription, now time.Time) time.Time {
	if sub.Expires.IsZero() {
		return now.Add(Lifetime)
	}
	return sub.Expires
}

// newClientState makes a subscription's secret and its hash.
func newClientState() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("subscriptions: random clientState: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return secret, hashClientState(secret), nil
}

func hashClientState(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// HandleLifecycle acts on a lifecycle notification.
func (s *Subscriptions) HandleLifecycle(ctx context.Context, a LifecycleArgs) error {
	switch a.Event {
	case Missed:
		_, err := s.jobs.Insert(ctx, inbound.CatchUpArgs{MailboxID: a.MailboxID}, nil)
		return err
	case SubscriptionRemoved:
		return s.Ensure(ctx, a.MailboxID, true)
	case ReauthorizationRequired:
		w, err := s.store.Get(ctx, a.MailboxID)
		if err != nil {
			return err
		}
		if w.SubscriptionID != a.SubscriptionID {
			return nil // about a subscription since replaced
		}
		err = s.graph.ReauthorizeSubscription(ctx, graph.Mailbox{ConnectionID: a.MailboxID}, a.SubscriptionID)
		if errors.Is(err, graph.ErrNotFound) {
			return s.Ensure(ctx, a.MailboxID, true)
		}
		if err != nil {
			return err
		}
		// Notifications were paused until now: look for what they missed.
		_, err = s.jobs.Insert(ctx, inbound.CatchUpArgs{MailboxID: a.MailboxID}, nil)
		return err
	}
	s.log.WarnContext(ctx, "unknown lifecycle event ignored", slog.String("event", a.Event))
	return nil
}

// Notification is one Graph notification as the gateway read it.
type Notification struct {
	SubscriptionID string
	ClientState    string
	// MessageID is set for change notifications; LifecycleEvent for
	// lifecycle notifications.
	MessageID      string
	LifecycleEvent string
}

// Outcome counts what Accept did.
type Outcome struct {
	Accepted, Rejected int
}

// Accept checks each notification against its subscription's secret and
// stores the accepted ones as jobs, in one transaction: a fetch of the
// message, or the lifecycle event's work. The caller answers Graph 202
// once it returns; on error, 5xx, and Graph delivers again.
func (s *Subscriptions) Accept(ctx context.Context, list []Notification) (Outcome, error) {
	ids := make([]string, 0, len(list))
	for _, n := range list {
		ids = append(ids, n.SubscriptionID)
	}
	watches, err := s.store.BySubscriptionIDs(ctx, ids)
	if err != nil {
		return Outcome{}, err
	}
	bySub := make(map[string]Watch, len(watches))
	for _, w := range watches {
		bySub[w.SubscriptionID] = w
	}
	var out Outcome
	var params []river.InsertManyParams
	for _, n := range list {
		w, ok := bySub[n.SubscriptionID]
		reason := ""
		switch {
		case !ok:
			reason = "unknown subscription"
		case subtle.ConstantTimeCompare(hashClientState(n.ClientState), w.ClientStateHash) != 1:
			reason = "wrong clientState"
		case w.Status == StatusStopped:
			reason = "mailbox not watched"
		}
		if reason != "" {
			out.Rejected++
			s.notifications.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "rejected"), attribute.String("reason", reason)))
			// Never the clientState itself.
			s.log.WarnContext(ctx, "graph notification ignored", slog.String("reason", reason), slog.String("subscription", n.SubscriptionID))
			continue
		}
		out.Accepted++
		s.notifications.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "accepted")))
		if n.LifecycleEvent != "" {
			params = append(params, river.InsertManyParams{Args: LifecycleArgs{MailboxID: w.MailboxID, SubscriptionID: n.SubscriptionID, Event: n.LifecycleEvent}})
			continue
		}
		params = append(params, river.InsertManyParams{Args: inbound.FetchArgs{MailboxID: w.MailboxID, MessageID: n.MessageID}})
	}
	if len(params) == 0 {
		return out, nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Outcome{}, postgres.MapError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op; on failure the error that counts is returned
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return Outcome{}, fmt.Errorf("subscriptions: store the notifications: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Outcome{}, postgres.MapError(err)
	}
	return out, nil
}

// ScheduleDue enqueues an ensure job for every subscription that expires
// within RenewBefore or whose creation has not finished.
func (s *Subscriptions) ScheduleDue(ctx context.Context) (int, error) {
	now := s.now()
	n, after := 0, ""
	for {
		ids, err := s.store.Due(ctx, now.Add(s.cfg.RenewBefore), now.Add(-10*time.Minute), after, 500)
		if err != nil {
			return n, err
		}
		for _, id := range ids {
			if _, err := s.jobs.Insert(ctx, EnsureArgs{MailboxID: id}, nil); err != nil {
				return n, err
			}
		}
		n += len(ids)
		if len(ids) < 500 {
			return n, nil
		}
		after = ids[len(ids)-1]
	}
}
