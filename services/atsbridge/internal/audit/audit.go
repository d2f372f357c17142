// Package audit writes atsbridge's sync audit log (SYNC-1): one row per
// decision (a push made, held or skipped, a webhook applied or recognised
// as an echo), written in the transaction of the decision so the log and
// the state it explains never disagree.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Directions of a decision.
const (
	DirectionPush      = "push"
	DirectionInbound   = "inbound"
	DirectionReconcile = "reconcile"
)

// Outcomes of a decision.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeRetrying  = "retrying"
	OutcomeHeld      = "held"
	OutcomeSkipped   = "skipped"
)

// Exchange is one request to the ATS and its answer, as the log keeps it:
// never a token, a key or a signature.
type Exchange struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Status int    `json:"status,omitempty"`
	Body   any    `json:"body,omitempty"`
}

// Entry is one decision.
type Entry struct {
	OrgID        string
	ConnectionID string
	// CandidateID is empty for connection-wide decisions.
	CandidateID    string
	OperationID    string
	TriggerID      string
	TriggerType    string
	Direction      string
	Action         string
	MappingVersion int
	Rule           string
	Request        *Exchange
	Response       *Exchange
	// Attempt counts from 1.
	Attempt       int
	Outcome       string
	Error         string
	ActorUserID   string
	ActorRemoteID string
	// OccurredAt defaults to now.
	OccurredAt time.Time
}

// secretKeys are JSON keys whose values never reach the log.
var secretKeys = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "signature": true,
	"authorization": true, "api_key": true, "apikey": true, "secret": true, "password": true,
}

// Record writes e in tx.
func Record(ctx context.Context, tx pgx.Tx, e Entry) error {
	if e.OrgID == "" || e.ConnectionID == "" || e.Direction == "" || e.Action == "" || e.Outcome == "" {
		return fmt.Errorf("audit: entry needs an organization, a connection, a direction, an action and an outcome")
	}
	if e.Attempt < 1 {
		e.Attempt = 1
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	req, err := exchangeJSON(e.Request)
	if err != nil {
		return err
	}
	resp, err := exchangeJSON(e.Response)
	if err != nil {
		return err
	}
	var candidate any
	if e.CandidateID != "" {
		candidate = e.CandidateID
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO sync_audit (org_id, connection_id, candidate_id, operation_id, trigger_id, trigger_type, direction,
			action, mapping_version, rule, request, response, attempt, outcome, error, actor_user_id, actor_remote_id, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		e.OrgID, e.ConnectionID, candidate, e.OperationID, e.TriggerID, e.TriggerType, e.Direction,
		e.Action, e.MappingVersion, e.Rule, req, resp, e.Attempt, e.Outcome, e.Error, e.ActorUserID, e.ActorRemoteID, e.OccurredAt)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// exchangeJSON encodes x with every secret value blanked; nil stays NULL.
func exchangeJSON(x *Exchange) ([]byte, error) {
	if x == nil {
		return nil, nil
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("audit: encode exchange: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("audit: encode exchange: %w", err)
	}
	return json.Marshal(redact(v))
}

// redact blanks the values of secret keys at any depth.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secretKeys[strings.ToLower(k)] {
				t[k] = "[redacted]"
				continue
			}
			t[k] = redact(val)
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}
