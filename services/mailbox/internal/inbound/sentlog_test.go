package inbound_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/migrations"
)

// The send pipeline's messages, read for matching: only what may have
// left, of this mailbox, recipients compared without case.
func TestSentLogReadsTheSendPipelinesMessages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := postgres.Migrate(ctx, db, "mailbox", migrations.FS, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	st := store.New(db)
	other := uuid.NewString()
	for _, id := range []string{mailboxID, other} {
		if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			_, _, _, err := st.ApplyStatus(ctx, tx, store.StatusChange{ID: id, OrgID: orgID, UserID: uuid.NewString(),
				Status: store.StatusConnected, Version: 1, DailyMessageLimit: 100})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	insert := func(mailbox, key, state, internetID, conv, to string, sentAt time.Time) string {
		id := uuid.NewString()
		_, err := db.Exec(ctx, `INSERT INTO messages (id, org_id, mailbox_id, caller, idempotency_key, request_hash, state,
			to_recipients, cc_recipients, recipient_count, subject, html_body, send_after, internet_message_id, conversation_id, sent_at,
			draft_id, send_attempted_at)
			VALUES ($1, $2, $3, 'outreach', $4, '\x00', $5, $6, '[{"address":"Cc@Example.org"}]', 2, 's', 'b', $7, $8, $9, $7, 'draft-' || $4, $7)`,
			id, orgID, mailbox, key, state, `[{"address":"`+to+`","name":"Jo"}]`, sentAt, internetID, conv)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := insert(mailboxID, "k1", "sent", "<m1@x>", "conv-1", "Jo@Example.org", t0)
	second := insert(mailboxID, "k2", "sending", "<m2@x>", "conv-1", "jo@example.org", t0.Add(time.Hour))
	insert(mailboxID, "k3", "queued", "", "", "jo@example.org", t0.Add(2*time.Hour))       // not left
	insert(mailboxID, "k4", "cancelled", "<m4@x>", "conv-1", "jo@example.org", t0)         // never left
	insert(other, "k5", "sent", "<m5@x>", "conv-1", "jo@example.org", t0.Add(3*time.Hour)) // another mailbox

	log := inbound.NewSentLog(db)
	conv, err := log.SentInConversation(ctx, mailboxID, "conv-1")
	if err != nil || len(conv) != 2 {
		t.Fatalf("conversation: %v %v", conv, err)
	}
	byID, err := log.SentWithInternetIDs(ctx, mailboxID, []string{"<m1@x>", "<m4@x>", "<m5@x>"})
	if err != nil || len(byID) != 1 || byID[0].ID != first || byID[0].IdempotencyKey != "k1" {
		t.Fatalf("by Message-ID: %+v %v", byID, err)
	}
	if got := byID[0].Recipients; len(got) != 2 || got[0] != "cc@example.org" || got[1] != "jo@example.org" {
		t.Errorf("recipients %q, want both, lower case", got)
	}
	last, ok, err := log.LastSentTo(ctx, mailboxID, "jo@example.org")
	if err != nil || !ok || last.ID != second {
		t.Fatalf("last sent to: %+v %v %v", last, ok, err)
	}
	if _, ok, err := log.LastSentTo(ctx, mailboxID, "stranger@example.com"); err != nil || ok {
		t.Fatalf("a stranger: %v %v", ok, err)
	}
	if last, ok, err := log.LastSentTo(ctx, mailboxID, "cc@example.org"); err != nil || !ok || last.ID != second {
		t.Fatalf("cc: %+v %v %v", last, ok, err)
	}
}
