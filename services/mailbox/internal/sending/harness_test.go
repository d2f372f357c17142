package sending

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph/graphtest"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/migrations"
)

const (
	org      = "00000000-0000-4000-8000-0000000000a1"
	otherOrg = "00000000-0000-4000-8000-0000000000b2"
	owner    = "00000000-0000-4000-8000-0000000000c3"
	caller   = "outreach"
)

// published records the events the pipeline publishes.
type published struct {
	mu     sync.Mutex
	events []events.Event
}

func (p *published) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
	return fmt.Sprint(len(p.events)), nil
}

func (p *published) sent() []*mailboxv1.MessageSent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*mailboxv1.MessageSent
	for _, ev := range p.events {
		if ev.Type == EventMessageSent {
			out = append(out, ev.Payload.(*mailboxv1.MessageSent))
		}
	}
	return out
}

// env is the pipeline over real Postgres, Redis and an in-process Graph
// simulator, with a clock the test moves.
type env struct {
	t        testing.TB
	ctx      context.Context
	pool     *pgxpool.Pool
	st       *store.Store
	jc       *jobs.Client
	sim      *providersim.Sim
	ctl      *simclient.Client
	tokens   *graphtest.Tokens
	mail     *graph.Client
	pub      *published
	pipeline *Pipeline
	worker   *SendWorker
	cleaner  *CleanDraftsWorker
	mu       sync.Mutex
	clock    time.Time
	// url is the test database's; tracer, when set, traces every pool
	// opened on it.
	url    string
	tracer pgx.QueryTracer
}

// openPool opens another pool on e's database as postgres.Open does (a
// replica's own), with e's tracer; closed when the test ends.
func (e *env) openPool() *pgxpool.Pool {
	e.t.Helper()
	if e.tracer == nil {
		pool, err := postgres.Open(e.ctx, postgres.Options{URL: e.url, Schema: "mailbox"})
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(pool.Close)
		return pool
	}
	cfg, err := pgxpool.ParseConfig(e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = "mailbox"
	cfg.ConnConfig.Tracer = e.tracer
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(pool.Close)
	return pool
}

func newEnv(t testing.TB) *env { return newTracedEnv(t, nil) }

// newTracedEnv is newEnv with tracer on every connection of its pool (the
// store's and River's), when it is not nil.
func newTracedEnv(t testing.TB, tracer pgx.QueryTracer) *env {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, "mailbox", migrations.FS, log); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, pool, "mailbox", log); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, url: url, tracer: tracer}
	if tracer != nil {
		pool = e.openPool()
	}
	jc, err := jobs.New(pool, jobs.Options{Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	minute, err := ratelimit.NewQuota(rdb, redisx.ServiceKeys(prefix, "mailbox", "sent-per-minute"), MinuteWindow(MessagesPerMinute))
	if err != nil {
		t.Fatal(err)
	}
	sim := graphtest.Start(t)
	tokens := graphtest.NewTokens()
	mail, err := graph.New(graph.Options{BaseURL: sim.GraphURL(), Tokens: tokens, HTTP: providerhttp.New(providerhttp.Options{
		Provider: "graph", MaxAttempts: 2, MaxRetryAfter: 100 * time.Millisecond,
		Backoff: providerhttp.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond},
	})})
	if err != nil {
		t.Fatal(err)
	}
	e.pool, e.st, e.jc, e.sim, e.ctl, e.tokens, e.mail = pool, store.New(pool), jc, sim, sim.Client(), tokens, mail
	e.pub, e.clock = &published{}, time.Now().Truncate(time.Microsecond)
	e.pipeline = New(e.st, jc, MessagesPerMinute, log)
	e.pipeline.now = e.now
	e.worker = NewSendWorker(SendWorkerOptions{Store: e.st, Jobs: jc, Mail: mail, Limits: NewLimits(e.st, minute, MessagesPerMinute), Publisher: e.pub,
		Timing: Timing{ConfirmAfter: 2 * time.Minute}, Logger: log})
	e.worker.now = e.now
	e.cleaner = NewCleanDraftsWorker(e.st, mail, log)
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.clock = e.clock.Add(d)
	e.mu.Unlock()
}

// connect records upn's mailbox as connected (as identity's event would)
// with a token, and returns its id.
func (e *env) connect(id, orgID, upn string, s store.StatusChange) store.Mailbox {
	e.t.Helper()
	e.tokens.Set(id, graphtest.AccessToken(e.t, e.sim, upn))
	s.ID, s.OrgID, s.UserID, s.Account, s.Status, s.Version = id, orgID, owner, upn, store.StatusConnected, time.Now().UnixMicro()
	if s.DailyMessageLimit == 0 {
		s.DailyMessageLimit = 1000
	}
	var mb store.Mailbox
	if err := e.st.InTx(e.ctx, func(tx pgx.Tx) error {
		var err error
		mb, _, _, err = e.st.ApplyStatus(e.ctx, tx, s)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return mb
}

func (e *env) submit(mb store.Mailbox, key, to string) store.Message {
	e.t.Helper()
	m, created, err := e.pipeline.Submit(e.ctx, Submission{OrgID: mb.OrgID, MailboxID: mb.ID, Caller: caller,
		To: []Recipient{{Address: to}}, Subject: "Role at Contoso " + key, HTMLBody: "<p>Hello " + key + "</p>", IdempotencyKey: key})
	if err != nil || !created {
		e.t.Fatalf("submit %s: created %v, %v", key, created, err)
	}
	return m
}

// work runs m's job once, as River would; a snooze comes back as its
// duration.
func (e *env) work(m store.Message) (snooze time.Duration, err error) {
	err = e.worker.Work(e.ctx, &river.Job[SendArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: SendArgs{MessageID: m.ID}})
	var s *rivertype.JobSnoozeError
	if errors.As(err, &s) {
		return s.Duration, nil
	}
	return 0, err
}

// drain works m's job until it is final, moving the clock over its
// snoozes (at most n runs).
func (e *env) drain(m store.Message, n int) store.Message {
	e.t.Helper()
	for range n {
		snooze, err := e.work(m)
		if err != nil {
			e.t.Fatalf("work %s: %v", m.ID, err)
		}
		got := e.message(m.ID)
		if store.Final(got.State) {
			return got
		}
		e.advance(snooze)
	}
	e.t.Fatalf("message %s not final after %d runs: %s", m.ID, n, e.message(m.ID).State)
	return store.Message{}
}

func (e *env) message(id string) store.Message {
	e.t.Helper()
	m, err := e.st.MessageByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// copies counts the messages in address's folder made for message id.
func (e *env) copies(address, folder, id string) int {
	e.t.Helper()
	list, err := e.ctl.Messages(e.ctx, address, folder)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, m := range list {
		if m.HeaderValue(MarkerHeader) == id {
			n++
		}
	}
	return n
}
