package atsjobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/logging"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsjobs"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

type world struct {
	pool *pgxpool.Pool
	st   *store.Store
	sink *events.Sink
	org  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	if err := events.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	sink := events.NewSink(events.NewReceiver(pool, events.ReceiverOptions{}))
	sink.Handle(atsjobs.EventJobSynced, atsjobs.ApplyJobSynced)
	return &world{pool: pool, st: store.New(pool), sink: sink, org: uuid.NewString()}
}

// deliver hands the sink an ats.job_synced as atsbridge's delivery does.
func (w *world) deliver(t *testing.T, version int64, p *atsbridgev1.AtsJobSynced) eventsv1.DeliverResponse_Outcome {
	t.Helper()
	payload, err := anypb.New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindService, Service: "atsbridge"})
	resp, err := w.sink.Deliver(ctx, &eventsv1.DeliverRequest{Event: &eventsv1.Event{Id: uuid.NewString(), Type: atsjobs.EventJobSynced, Source: "atsbridge",
		OrganizationId: w.org, AggregateId: "conn/" + p.GetExternalId(), Version: version, OccurredAt: timestamppb.Now(), Payload: payload}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetOutcome()
}

func (w *world) jobs(t *testing.T) map[string]store.Job {
	t.Helper()
	ids := []string{}
	rows, err := w.pool.Query(t.Context(), `SELECT id::text FROM jobs WHERE org_id = $1`, w.org)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	out := map[string]store.Job{}
	for _, id := range ids {
		j, err := w.st.Job(t.Context(), w.org, id)
		if err != nil {
			t.Fatal(err)
		}
		out[j.ExternalID] = j
	}
	return out
}

func TestPostingsAreMirroredThroughEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v := time.Now().UnixMicro()
	published := &atsbridgev1.AtsJobSynced{Provider: "lever", ExternalId: "p-1", Title: "Go engineer", State: "published", Published: true, Team: "Platform", Location: "Berlin"}
	draft := &atsbridgev1.AtsJobSynced{Provider: "lever", ExternalId: "p-2", Title: "", State: "draft"}
	internal := &atsbridgev1.AtsJobSynced{Provider: "lever", ExternalId: "p-3", Title: "Unlisted", State: "internal"}
	for _, p := range []*atsbridgev1.AtsJobSynced{published, draft, internal} {
		if o := w.deliver(t, v, p); o != eventsv1.DeliverResponse_OUTCOME_APPLIED {
			t.Fatalf("%s: %v", p.GetExternalId(), o)
		}
	}
	js := w.jobs(t)
	if j := js["p-1"]; len(js) != 3 || j.Status != store.JobOpen || j.ExternalSource != "lever" || j.Title != "Go engineer" || j.Team != "Platform" || j.Location != "Berlin" {
		t.Fatalf("jobs %+v", js)
	}
	if js["p-2"].Status != store.JobDraft || js["p-2"].Title == "" || js["p-3"].Status != store.JobClosed {
		t.Fatalf("jobs %+v", js)
	}

	// A later import closes the posting: the same job, closed.
	closed := &atsbridgev1.AtsJobSynced{Provider: "lever", ExternalId: "p-1", Title: "Go engineer", State: "closed"}
	if o := w.deliver(t, v+1, closed); o != eventsv1.DeliverResponse_OUTCOME_APPLIED {
		t.Fatalf("closing: %v", o)
	}
	// An older import's event arriving late changes nothing.
	if o := w.deliver(t, v, published); o != eventsv1.DeliverResponse_OUTCOME_STALE {
		t.Fatalf("a late older event: %v", o)
	}
	after := w.jobs(t)
	if j := after["p-1"]; len(after) != 3 || j.ID != js["p-1"].ID || j.Status != store.JobClosed {
		t.Fatalf("after closing: %+v", after)
	}
}

type checker struct {
	asked          []string
	reason, detail string
}

func (c *checker) CheckFlowLink(_ context.Context, orgID, externalJobID string) (string, string, error) {
	c.asked = append(c.asked, orgID+"/"+externalJobID)
	return c.reason, c.detail, nil
}

func TestCheckJobLinkAsksAtsbridgeForATSJobs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	own, err := w.st.CreateJob(ctx, store.Job{OrgID: w.org, Title: "Our own", Status: store.JobOpen})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, 1, &atsbridgev1.AtsJobSynced{Provider: "lever", ExternalId: "p-9", Title: "Lever's", State: "published", Published: true})
	lever := w.jobs(t)["p-9"]
	c := &checker{reason: "stage_mapping_required", detail: "save the stage mapping first"}
	links := atsjobs.NewLinks(w.st, c)
	if err := links.CheckJobLink(ctx, w.org, own.ID); err != nil || len(c.asked) != 0 {
		t.Fatalf("a job of Tandem's own: %v, asked %v", err, c.asked)
	}
	var ae *apperr.Error
	if err := links.CheckJobLink(ctx, w.org, lever.ID); !errors.As(err, &ae) || ae.Kind != apperr.KindFailedPrecondition || ae.Reason != "stage_mapping_required" ||
		len(c.asked) != 1 || c.asked[0] != w.org+"/p-9" {
		t.Fatalf("an ATS job before the mapping: %v, asked %v", err, c.asked)
	}
	c.reason = ""
	if err := links.CheckJobLink(ctx, w.org, lever.ID); err != nil {
		t.Fatalf("an ATS job atsbridge agrees to: %v", err)
	}
	if err := links.CheckJobLink(ctx, uuid.NewString(), lever.ID); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("another organization's job: %v", err)
	}
}
