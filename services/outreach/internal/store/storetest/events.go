package storetest

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// Publisher is the real events.Publisher over a real River client on
// pool's outreach schema (River's tables are migrated here), publishing
// every type to one subscriber, "atsbridge", which nothing serves: the
// events stay in the outbox for Published to read.
func Publisher(t testing.TB, pool *pgxpool.Pool) *events.Publisher {
	t.Helper()
	if err := jobs.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := events.NewPublisher(jc, events.PublisherOptions{Source: "outreach", Schema: "outreach", DB: pool, Logger: logging.Discard(),
		Subscribers: []events.Subscriber{{Name: "atsbridge", Target: "127.0.0.1:1", Types: []string{"*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pub.Close(); err != nil {
			t.Error(err)
		}
	})
	return pub
}

// Published is every event in the outbox of pool's outreach schema (the
// committed ones: a rolled-back transaction leaves none), oldest first,
// optionally of one type.
func Published(t testing.TB, pool *pgxpool.Pool, typ string) []*eventsv1.Event {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT args FROM river_job WHERE kind = 'tandem_event_delivery' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.Event
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var args struct {
			Event []byte `json:"event"`
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			t.Fatal(err)
		}
		ev := &eventsv1.Event{}
		if err := proto.Unmarshal(args.Event, ev); err != nil {
			t.Fatal(err)
		}
		if typ == "" || ev.GetType() == typ {
			out = append(out, ev)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
