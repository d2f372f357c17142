package connections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/providerhttp"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
)

// published records the events an import publishes in its transaction.
type published struct {
	mu  sync.Mutex
	evs []events.Event
}

func (p *published) Publish(_ context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	if tx == nil {
		panic("published outside a transaction")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, ev)
	return "id", nil
}

func (p *published) take() []events.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.evs
	p.evs = nil
	return out
}

// Each import mirrors the postings that changed since the last one into
// outreach's jobs: all of them the first time, then only what is new.
func TestImportPublishesChangedPostings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	pub := &published{}
	w.worker = connections.NewImportWorker(w.st, w.tokens, api, pub, nil)
	at := time.Now()
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at)
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	acct, err := w.sim.Client().LeverAccount(ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	first := pub.take()
	if len(first) != len(acct.Postings) || len(first) == 0 {
		t.Fatalf("first import published %d events for %d postings", len(first), len(acct.Postings))
	}
	states := map[string]string{}
	for _, p := range acct.Postings {
		states[p.ID] = p.State
	}
	for _, ev := range first {
		p, ok := ev.Payload.(*atsbridgev1.AtsJobSynced)
		if !ok || ev.Type != connections.EventJobSynced || ev.OrganizationID != w.org || ev.AggregateID != w.connID+"/"+p.GetExternalId() ||
			ev.Version <= 0 || p.GetState() != states[p.GetExternalId()] || p.GetPublished() != (p.GetState() == simclient.LeverPublished) || p.GetProvider() != "lever" {
			t.Fatalf("event %+v", ev)
		}
	}

	added, err := w.sim.Client().AddLeverPosting(ctx, providersim.DemoLeverAccount, simclient.LeverPosting{Text: "Staff engineer", State: simclient.LeverPublished})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at.Add(time.Second))
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	second := pub.take()
	if len(second) != 1 || second[0].Payload.(*atsbridgev1.AtsJobSynced).GetExternalId() != added.ID || second[0].Version <= first[0].Version {
		t.Fatalf("second import published %+v, want only %s", second, added.ID)
	}
}
