package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

func TestRecordKeepsNoSecrets(t *testing.T) {
	db := storetest.New(t)
	ctx := t.Context()
	org, conn, cand := uuid.NewString(), uuid.NewString(), uuid.NewString()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{
			OrgID: org, ConnectionID: conn, CandidateID: cand, Direction: audit.DirectionInbound,
			Action: "apply_stage", Outcome: audit.OutcomeSucceeded,
			Request: &audit.Exchange{Body: map[string]any{"token": "t0ps3cret", "data": map[string]any{"signature": "abc", "toStageId": "s1"}}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var req string
	var attempt int
	if err := db.QueryRow(ctx, `SELECT request::text, attempt FROM sync_audit WHERE candidate_id = $1`, cand).Scan(&req, &attempt); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"t0ps3cret", "abc"} {
		if strings.Contains(req, secret) {
			t.Errorf("request %s keeps %q", req, secret)
		}
	}
	if !strings.Contains(req, "s1") || attempt != 1 {
		t.Errorf("request %s attempt %d: want the stage kept and attempt 1", req, attempt)
	}
}

func TestRecordRefusesAnIncompleteEntry(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{OrgID: uuid.NewString(), Action: "x", Outcome: audit.OutcomeSkipped})
	})
	if err == nil {
		t.Fatal("an entry without a connection or direction was recorded")
	}
}
