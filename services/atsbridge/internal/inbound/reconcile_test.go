package inbound_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/redisx"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// A webhook Lever never delivered is corrected by the reconcile, once; a
// lost cursor re-reads everything and changes nothing more.
func TestReconcileAppliesWhatAWebhookMissed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cand, opp := w.linked("New lead")
	_, quiet := w.linked("New lead")
	if err := w.sc.AddLeverDeliveryFault(w.ctx, simclient.LeverDeliveryFault{Mode: "drop", Event: lever.EventCandidateStageChange}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sc.MoveLeverStage(w.ctx, opp, simclient.LeverStageMove{Stage: "Responded"}); err != nil {
		t.Fatal(err)
	}
	rdb := pgtest.NewRedis(t)
	cursors := store.NewSyncCursors(rdb, redisx.ServiceKeys(pgtest.RedisPrefixCleaned(t, rdb), "atsbridge", "sync-cursor"))
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	scopes := append([]string{"webhooks:write:admin", "opportunities:read:admin"}, levertest.Scopes...)
	rw := inbound.NewReconcileWorker(w.st, inbound.NewApplier(w.st, w.pub, nil, nil), tokens{token: levertest.AccessToken(t, w.sim, scopes...)}, api, cursors, w.jobs, nil)

	res, err := rw.Reconcile(w.ctx, w.connID, false)
	if err != nil || res.Applied != 1 || res.Linked < 2 {
		t.Fatalf("first reconcile: %+v, %v", res, err)
	}
	evs := w.pub.all()
	if len(evs) != 1 || evs[0].AggregateID != cand {
		t.Fatalf("events: %+v", evs)
	}
	if p := evs[0].Payload.(*atsbridgev1.AtsStageChanged); p.GetOrigin() != inbound.OriginReconcile || p.GetToStageId() != w.tandem[w.stages["Responded"]] {
		t.Fatalf("payload: %+v", p)
	}
	if got := w.audits(cand); len(got) != 1 || got[0].Direction != "reconcile" || got[0].Action != inbound.ActionApplyStage {
		t.Fatalf("audit: %+v", got)
	}
	if _, ok, err := cursors.Get(w.ctx, w.connID); !ok || err != nil {
		t.Fatalf("no cursor after a run: %v", err)
	}
	// Again, with the cursor; then with the cursor lost (a full run).
	for _, full := range []bool{false, true} {
		if res, err := rw.Reconcile(w.ctx, w.connID, full); err != nil || res.Applied != 0 {
			t.Fatalf("reconcile again (full %t): %+v, %v", full, res, err)
		}
	}
	if len(w.pub.all()) != 1 || len(w.audits(quiet)) != 0 {
		t.Fatalf("a second run applied something: %d events", len(w.pub.all()))
	}

	// The periodic run fans out to every connected connection.
	if err := rw.Work(w.ctx, &river.Job[inbound.ReconcileArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: inbound.ReconcileArgs{}}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range w.jobs.args {
		if r, ok := a.(inbound.ReconcileArgs); ok && r.ConnectionID == w.connID {
			found = true
		}
	}
	if !found {
		t.Fatal("the fan-out enqueued no reconcile of the connection")
	}

	// On demand (ResyncAtsConnection): queued for the caller's
	// organization only.
	if id, err := inbound.Resync(w.ctx, w.st, w.jobs, w.org, true); err != nil || id != w.connID {
		t.Fatalf("resync: %s, %v", id, err)
	}
	if last := w.jobs.args[len(w.jobs.args)-1].(inbound.ReconcileArgs); last.ConnectionID != w.connID || !last.Full {
		t.Fatalf("resync queued %+v", last)
	}
	if _, err := inbound.Resync(w.ctx, w.st, w.jobs, uuid.NewString(), false); !errors.Is(err, inbound.ErrNotConnected) {
		t.Fatalf("resync of another organization: %v", err)
	}
}

// refreshingTokens is identity: a token, and a refresh answered with
// refreshErr, counted.
type refreshingTokens struct {
	token      string
	refreshErr error
	refreshes  *atomic.Int32
}

func (k refreshingTokens) GetAccessToken(_ context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	if req.GetRefresh() {
		k.refreshes.Add(1)
		if k.refreshErr != nil {
			return nil, k.refreshErr
		}
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: k.token}, nil
}

// Lever's 401 during a reconcile asks identity for a refresh first: a
// refreshed token retries the run and the connection stays connected;
// only a refused refresh turns it reconnect_required.
func TestReconcileRefreshesARefusedTokenBeforeGivingTheConnectionUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rdb := pgtest.NewRedis(t)
	cursors := store.NewSyncCursors(rdb, redisx.ServiceKeys(pgtest.RedisPrefixCleaned(t, rdb), "atsbridge", "sync-cursor"))
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	scopes := append([]string{"webhooks:write:admin", "opportunities:read:admin"}, levertest.Scopes...)
	k := refreshingTokens{token: levertest.AccessToken(t, w.sim, scopes...), refreshes: &atomic.Int32{}}
	reconcile := func(k refreshingTokens) error {
		rw := inbound.NewReconcileWorker(w.st, inbound.NewApplier(w.st, w.pub, nil, nil), k, api, cursors, w.jobs, nil)
		_, err := rw.Reconcile(w.ctx, w.connID, true)
		return err
	}
	status := func() string {
		c, err := w.st.ConnectionByID(w.ctx, w.connID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	unauthorized := simclient.Fault{Endpoint: "lever.listOpportunities", Status: 401, Count: 1}
	if _, err := w.sc.AddFault(w.ctx, unauthorized); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(k); !errors.Is(err, lever.ErrUnauthorized) || status() != store.StatusConnected || k.refreshes.Load() != 1 {
		t.Fatalf("a stale token: %v, status %s, %d refreshes", err, status(), k.refreshes.Load())
	}
	if err := reconcile(k); err != nil {
		t.Fatalf("the retry with the refreshed token: %v", err)
	}
	k.refreshErr = grpcstatus.Error(codes.FailedPrecondition, "the connection is reconnect required")
	if _, err := w.sc.AddFault(w.ctx, unauthorized); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(k); err != nil || status() != store.StatusReconnectRequired || k.refreshes.Load() != 2 {
		t.Fatalf("a revoked grant: %v, status %s, %d refreshes", err, status(), k.refreshes.Load())
	}
}

// The webhooks' registration refused with a 401 asks identity for a
// refresh: refreshed, the job goes again (not given up); refused, the
// registration is given up until the next connection.
func TestRegistrationRefreshesARefusedToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	scopes := append([]string{"webhooks:write:admin", "opportunities:read:admin"}, levertest.Scopes...)
	k := refreshingTokens{token: levertest.AccessToken(t, w.sim, scopes...), refreshes: &atomic.Int32{}}
	run := func(k refreshingTokens) error {
		rw := inbound.NewRegisterWorker(w.st, k, api, nil, "http://127.0.0.1:1", nil) // the 401 comes before anything is sealed
		return rw.Work(w.ctx, &river.Job[inbound.RegisterArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: w.jobs.registration(t)})
	}
	unauthorized := simclient.Fault{Endpoint: "lever.listWebhooks", Status: 401, Count: 1}
	if _, err := w.sc.AddFault(w.ctx, unauthorized); err != nil {
		t.Fatal(err)
	}
	var cancel *river.JobCancelError
	if err := run(k); !errors.Is(err, lever.ErrUnauthorized) || errors.As(err, &cancel) || k.refreshes.Load() != 1 {
		t.Fatalf("a stale token: %v, %d refreshes", err, k.refreshes.Load())
	}
	k.refreshErr = grpcstatus.Error(codes.FailedPrecondition, "the connection is reconnect required")
	if _, err := w.sc.AddFault(w.ctx, unauthorized); err != nil {
		t.Fatal(err)
	}
	if err := run(k); !errors.As(err, &cancel) || k.refreshes.Load() != 2 {
		t.Fatalf("a revoked grant: %v, %d refreshes", err, k.refreshes.Load())
	}
}
