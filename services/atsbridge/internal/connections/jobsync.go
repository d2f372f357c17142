package connections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/events"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// EventJobSynced mirrors an ATS posting into outreach's job list (LV-3).
const EventJobSynced = "ats.job_synced"

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// publishJobs returns the import's store.PostingsChanged: one
// ats.job_synced per posting that changed, in the import's transaction.
// The aggregate is the connection's posting and the version the import's
// time, so a delivery of an older import never overwrites a newer one.
func (w *ImportWorker) publishJobs(conn store.Connection, at time.Time) store.PostingsChanged {
	if w.pub == nil {
		return nil
	}
	return func(ctx context.Context, tx pgx.Tx, changed []store.Posting) error {
		for _, p := range changed {
			if _, err := w.pub.Publish(ctx, tx, events.Event{
				Type: EventJobSynced, OrganizationID: conn.OrgID, AggregateID: conn.ID + "/" + p.RemoteID, Version: at.UnixMicro(), OccurredAt: at,
				Payload: &atsbridgev1.AtsJobSynced{ConnectionId: conn.ID, Provider: conn.Provider, ExternalId: p.RemoteID, Title: p.Title,
					State: p.State, Published: p.Published(), Team: p.Team, Department: p.Department, Location: p.Location, Commitment: p.Commitment},
			}); err != nil {
				return fmt.Errorf("connections: publish %s: %w", EventJobSynced, err)
			}
		}
		return nil
	}
}
