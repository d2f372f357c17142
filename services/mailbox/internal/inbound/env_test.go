package inbound_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/riverqueue/river/rivertype"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging/logtest"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/redisx"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
	"github.com/tandemhq/tandem/services/mailbox/internal/match"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
	"github.com/tandemhq/tandem/services/mailbox/migrations"
)

// env is one test's world: the Graph simulator, a fresh database and Redis
// prefix, the Graph client with a real delegated token of the recruiter,
// River working the inbound jobs, and a stand-in for the gateway's route
// that hands notifications to Accept.
type env struct {
	t       *testing.T
	ctx     context.Context
	sim     *providersim.Sim
	ctl     *simclient.Client
	db      *pgxpool.Pool
	cursors *inbound.Cursors
	gc      *graph.Client
	subs    *subscriptions.Subscriptions
	inbox   *inbound.Inbox
	reader  *inbound.Reader
	st      *inbound.Store
	sent    *sentLog
	pub     *publisher
	jc      *jobs.Client
	mailbox store.Mailbox
	hook    *httptest.Server
}

const (
	recruiter = providersim.DemoContosoUser
	candidate = "jo.candidate@example.org"
	orgID     = "0190a000-0000-7000-8000-000000000001"
	userID    = "0190a000-0000-7000-8000-000000000002"
	mailboxID = "0190a000-0000-7000-8000-000000000003"
)

// staticTokens hands out the recruiter's token.
type staticTokens struct{ token string }

func (s staticTokens) AccessToken(context.Context, string) (string, error) { return s.token, nil }

// sentLog is the send pipeline's record, seeded by the tests.
type sentLog struct {
	mu   sync.Mutex
	sent []match.Sent
}

func (l *sentLog) add(s match.Sent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, s)
}

func (l *sentLog) SentInConversation(_ context.Context, _, conv string) ([]match.Sent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []match.Sent
	for _, s := range l.sent {
		if s.ConversationID == conv {
			out = append(out, s)
		}
	}
	return out, nil
}

func (l *sentLog) SentWithInternetIDs(_ context.Context, _ string, ids []string) ([]match.Sent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []match.Sent
	for _, s := range l.sent {
		if slices.Contains(ids, s.InternetMessageID) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (l *sentLog) LastSentTo(_ context.Context, _, addr string) (match.Sent, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.sent) - 1; i >= 0; i-- {
		if slices.Contains(l.sent[i].Recipients, addr) {
			return l.sent[i], true, nil
		}
	}
	return match.Sent{}, false, nil
}

// publisher records what is published, when its transaction commits.
type publisher struct {
	mu        sync.Mutex
	published []events.Event
}

func (p *publisher) Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	// Written in the transaction like the real outbox, so a rollback
	// loses it: the test reads the table, not this list.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS test_outbox (type text, aggregate text)`); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO test_outbox VALUES ($1, $2)`, ev.Type, ev.AggregateID); err != nil {
		return "", err
	}
	p.mu.Lock()
	p.published = append(p.published, ev)
	p.mu.Unlock()
	return "id", nil
}

func (e *env) outbox() int {
	e.t.Helper()
	var n int
	err := e.db.QueryRow(e.ctx, `SELECT count(*) FROM test_outbox`).Scan(&n)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	e := &env{t: t, ctx: ctx, sent: &sentLog{}, pub: &publisher{}}

	// The gateway's route, reduced to what mailbox sees: the handshake
	// answered, every notification POST handed to Accept.
	e.hook = httptest.NewServer(http.HandlerFunc(e.webhook))
	t.Cleanup(e.hook.Close)

	sim, err := providersim.Start(ctx, providersim.Options{AllowHTTPLoopbackNotifications: true, Logger: log,
		GraphLimits: simclient.GraphLimits{NotificationBatchWaitMs: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Log("closing the simulator:", err)
		}
	})
	e.sim, e.ctl = sim, sim.Client()

	e.db, err = postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.db.Close)
	if err := postgres.Migrate(ctx, e.db, "mailbox", migrations.FS, log); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, e.db, "mailbox", log); err != nil {
		t.Fatal(err)
	}
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	e.cursors = inbound.NewCursors(rdb, redisx.ServiceKeys(prefix, "mailbox", inbound.CursorPurpose))

	limits, err := graph.NewSharedLimits(rdb, redisx.ServiceKeys(prefix, "mailbox", "graph-concurrency"), redisx.ServiceKeys(prefix, "mailbox", "graph-requests"), log)
	if err != nil {
		t.Fatal(err)
	}
	e.gc, err = graph.New(graph.Options{BaseURL: sim.GraphURL(), Tokens: staticTokens{graphToken(t, sim, recruiter)}, HTTP: limits.HTTP(log, 5*time.Second)})
	if err != nil {
		t.Fatal(err)
	}

	st := store.New(e.db)
	lj := &lateJobs{}
	subStore := subscriptions.NewStore(e.db)
	cfg := subscriptions.Config{WebhookBaseURL: e.hook.URL, CatchUpEvery: time.Hour, RenewBefore: 24 * time.Hour}
	e.subs, err = subscriptions.New(subscriptions.Options{Store: subStore, DB: e.db, Graph: e.gc, Mailboxes: st, Jobs: lj, Config: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.st = inbound.NewStore(e.db)
	e.inbox = inbound.New(inbound.Options{Store: e.st, Graph: e.gc, Mailboxes: st, Sent: e.sent, Publisher: e.pub,
		Cursors: e.cursors, CaughtUp: subStore, Log: log})
	workers := river.NewWorkers()
	river.AddWorker(workers, subscriptions.NewEnsureWorker(e.subs))
	river.AddWorker(workers, subscriptions.NewLifecycleWorker(e.subs))
	river.AddWorker(workers, inbound.NewFetchWorker(e.inbox))
	river.AddWorker(workers, inbound.NewCatchUpWorker(e.inbox))
	river.AddWorker(workers, mailboxes.NewFetchAddressesWorker(st, e.gc, log))
	e.jc, err = jobs.New(e.db, jobs.Options{Schema: "mailbox", Workers: workers,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lj.c = e.jc
	registry := mailboxes.New(st, e.jc, mailboxes.Settings{}, log)
	registry.OnConnected(e.subs.Watch)
	e.reader = inbound.NewReader(e.st, registry, e.cursors)
	if err := e.jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.jc.Stop(sctx) //nolint:errcheck // the test is over
	})

	// identity says the recruiter's mailbox is connected.
	payload, err := anypb.New(&identityv1.MailboxConnectionChanged{ConnectionId: mailboxID, UserId: userID, Account: recruiter,
		Status: identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, ChangeTime: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: "ev-1", Type: mailboxes.EventConnected, OrganizationId: orgID, AggregateId: mailboxID, Payload: payload}
	if err := pgx.BeginFunc(ctx, e.db, func(tx pgx.Tx) error { return registry.ApplyConnectionChanged(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	// The subscription is made, and the addresses read, by their jobs.
	poll.Until(t, 30*time.Second, func() error {
		subs, err := e.ctl.Subscriptions(ctx)
		if err != nil {
			return err
		}
		m, err := st.MailboxByID(ctx, mailboxID)
		if err != nil {
			return err
		}
		if len(subs) != 1 || m.AddressesFetchedAt == nil {
			return fmt.Errorf("%d subscriptions, addresses fetched %v", len(subs), m.AddressesFetchedAt)
		}
		e.mailbox = m
		return nil
	})
	return e
}

// lateJobs forwards to the River client, made after the workers.
type lateJobs struct{ c *jobs.Client }

func (l *lateJobs) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return l.c.Insert(ctx, args, opts)
}

func (l *lateJobs) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return l.c.InsertTx(ctx, tx, args, opts)
}

func (l *lateJobs) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return l.c.InsertManyTx(ctx, tx, params)
}

// webhook is the stand-in for the gateway's /webhooks/graph.
func (e *env) webhook(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("validationToken"); tok != "" {
		w.Header().Set("Content-Type", "text/plain")
		if _, err := io.WriteString(w, tok); err != nil {
			e.t.Log("validation answer:", err)
		}
		return
	}
	var in struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
			ClientState    string `json:"clientState"`
			LifecycleEvent string `json:"lifecycleEvent"`
			ResourceData   struct {
				ID string `json:"id"`
			} `json:"resourceData"`
		} `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	var list []subscriptions.Notification
	for _, n := range in.Value {
		list = append(list, subscriptions.Notification{SubscriptionID: n.SubscriptionID, ClientState: n.ClientState,
			MessageID: n.ResourceData.ID, LifecycleEvent: n.LifecycleEvent})
	}
	if _, err := e.subs.Accept(r.Context(), list); err != nil {
		http.Error(w, "later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// graphToken signs user in through the simulator's pages and returns a
// delegated Graph token with the mail scopes.
func graphToken(t *testing.T, sim *providersim.Sim, upn string) string {
	t.Helper()
	ctx := t.Context()
	ctl := sim.Client()
	u, err := ctl.User(ctx, upn)
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{"openid", "profile", "email", "offline_access", "Mail.Send", "Mail.ReadWrite", "Mail.Read", "User.Read"}
	if _, err := ctl.GrantConsent(ctx, simclient.Grant{ClientID: providersim.DefaultClientID, UserID: u.ID, Scopes: scopes}); err != nil {
		t.Fatal(err)
	}
	b, err := simbrowser.New(sim.MicrosoftURL())
	if err != nil {
		t.Fatal(err)
	}
	const verifier = "a-test-verifier-of-more-than-forty-three-characters-for-pkce"
	sum := sha256.Sum256([]byte(verifier))
	redirect := providersim.DefaultRedirectURIs[0]
	q := url.Values{"client_id": {providersim.DefaultClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {strings.Join(scopes, " ")}, "state": {"s"}, "nonce": {"n"}, "login_hint": {upn},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	p, err := b.Get(ctx, sim.MicrosoftURL()+"/"+u.TenantID+"/oauth2/v2.0/authorize?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name == "signin" {
		if p, err = b.Submit(ctx, p, url.Values{"login": {upn}}, "signin-submit"); err != nil {
			t.Fatal(err)
		}
	}
	if p.Name == "consent" {
		if p, err = b.Submit(ctx, p, url.Values{}, "accept"); err != nil {
			t.Fatal(err)
		}
	}
	if p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
		t.Fatalf("no code: page %q", p.Name)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {p.Redirect.Query().Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {providersim.DefaultClientID}, "client_secret": {providersim.DefaultClientSecret}}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.PostForm(sim.MicrosoftURL()+"/"+u.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}
