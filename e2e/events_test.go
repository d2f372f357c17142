package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
)

// An event published while its receiver is down is delivered once the
// receiver is back (DESIGN §8, ADR 15): mailbox is stopped, a recruiter
// connects the mailbox (identity publishes mailbox.connected in the
// transaction that records it), identity's delivery job fails against the
// stopped service and keeps trying; mailbox starts again, the event
// arrives, and the mailbox is known and connected, applied once.
func TestEvents_DeliveredAfterTheReceiverWasDown(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	ctx := t.Context()
	s.Procs["mailbox"].Stop()

	userAPI, conn := connectedMailbox(t, s, contosoUser)

	db, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test's context is cancelled by now.
		if err := db.Close(context.WithoutCancel(ctx)); err != nil {
			t.Log(err)
		}
	})
	// The delivery to mailbox has been tried, and failed, at least once.
	var jobID int64
	poll.Until(t, 60*time.Second, func() error {
		var attempt int
		var state string
		err := db.QueryRow(ctx, `SELECT id, attempt, state FROM identity.river_job
			WHERE kind = 'tandem_event_delivery' AND args->>'subscriber' = 'mailbox' ORDER BY id DESC LIMIT 1`).Scan(&jobID, &attempt, &state)
		if err != nil {
			return err
		}
		if attempt < 1 || state == "completed" {
			return fmt.Errorf("delivery job %d: attempt %d, %s", jobID, attempt, state)
		}
		return nil
	})
	code, body := userAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, nil)
	if code < 500 {
		t.Fatalf("with mailbox down the health is unavailable, got %d: %s", code, body)
	}

	s.Procs["mailbox"].Start()
	health := &mailboxv1.GetMailboxHealthResponse{}
	poll.Until(t, 90*time.Second, func() error {
		code, body := userAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, health)
		if code != 200 {
			return fmt.Errorf("health: %d %s", code, body)
		}
		if health.GetHealth().GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED {
			return fmt.Errorf("mailbox status %v", health.GetHealth().GetStatus())
		}
		return nil
	})
	// River records the job's completion a moment after the answer.
	poll.Until(t, 30*time.Second, func() error {
		var state string
		if err := db.QueryRow(ctx, `SELECT state FROM identity.river_job WHERE id = $1`, jobID).Scan(&state); err != nil {
			return err
		}
		if state != "completed" {
			return fmt.Errorf("the delivery job is %s, want completed", state)
		}
		return nil
	})
	var processed int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM mailbox.processed_events WHERE source = 'identity'`).Scan(&processed); err != nil || processed != 1 {
		t.Fatalf("mailbox processed %d events from identity (%v), want 1", processed, err)
	}
}
