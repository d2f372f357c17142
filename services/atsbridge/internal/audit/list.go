package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
)

// Page sizes of the log.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Directions and Outcomes are the values a filter may ask for.
var (
	Directions = []string{DirectionPush, DirectionInbound, DirectionReconcile}
	Outcomes   = []string{OutcomeSucceeded, OutcomeFailed, OutcomeRetrying, OutcomeHeld, OutcomeSkipped}
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/atsbridge/internal/audit")

// Querier is what List needs of the database: a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Filter selects decisions of one organization. Every field but OrgID is
// optional; an empty one selects every value.
type Filter struct {
	OrgID        string
	ConnectionID string
	CandidateID  string
	Direction    string
	Outcome      string
	Action       string
}

// Logged is one decision as the log keeps it. Request and Response are
// the exchanges' JSON, secrets already blanked by Record; nil when none.
type Logged struct {
	ID             int64
	OrgID          string
	ConnectionID   string
	CandidateID    string
	OperationID    string
	TriggerID      string
	TriggerType    string
	Direction      string
	Action         string
	MappingVersion int
	Rule           string
	Request        json.RawMessage
	Response       json.RawMessage
	Attempt        int
	Outcome        string
	Error          string
	ActorUserID    string
	ActorRemoteID  string
	OccurredAt     time.Time
}

// Page is a page of the log; NextPageToken is empty on the last one.
type Page struct {
	Entries       []Logged
	NextPageToken string
}

// pageToken is the last row of a page, bound to the filter it came from.
type pageToken struct {
	Filter Filter `json:"f"`
	After  int64  `json:"a"`
}

// Log reads the sync audit log of a database.
type Log struct{ db Querier }

// NewLog returns the log kept in db.
func NewLog(db Querier) *Log { return &Log{db: db} }

// List is List over the log's database.
func (l *Log) List(ctx context.Context, f Filter, pageSize int, token string) (Page, error) {
	return List(ctx, l.db, f, pageSize, token)
}

// List returns a page of the organization's decisions that f selects, in
// the order they were taken (id ascending), so a candidate's log reads as
// its history. A candidate or connection of another organization selects
// nothing: the page is empty, as for one with no decisions yet (atsbridge
// does not own candidates, so it cannot tell them apart, and tells nothing
// about other organizations).
func List(ctx context.Context, db Querier, f Filter, pageSize int, token string) (_ Page, err error) {
	f.Action = strings.TrimSpace(f.Action)
	if err := f.check(); err != nil {
		return Page{}, err
	}
	size, err := paging.Size(pageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	var after int64
	if token != "" {
		tok, err := paging.Decode[pageToken](token)
		if err != nil || tok.Filter != f || tok.After < 0 {
			return Page{}, paging.ErrBadToken
		}
		after = tok.After
	}
	if !isUUID(f.OrgID) {
		return Page{}, nil
	}
	rows, err := query(ctx, db, f, after, size+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Entries: rows}
	if len(rows) > size {
		page.Entries = rows[:size]
		if page.NextPageToken, err = paging.Encode(pageToken{Filter: f, After: rows[size-1].ID}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

func (f Filter) check() error {
	if f.CandidateID != "" && !isUUID(f.CandidateID) {
		return apperr.InvalidArgument("candidate_id", "must be a candidate id")
	}
	if f.Direction != "" && !slices.Contains(Directions, f.Direction) {
		return apperr.InvalidArgument("direction", "must be push, inbound or reconcile")
	}
	if f.Outcome != "" && !slices.Contains(Outcomes, f.Outcome) {
		return apperr.InvalidArgument("outcome", "must be succeeded, failed, retrying, held or skipped")
	}
	if len(f.Action) > 100 {
		return apperr.InvalidArgument("action", "must be at most 100 characters")
	}
	return nil
}

const listColumns = `id, org_id::text, connection_id::text, coalesce(candidate_id::text, ''), operation_id, trigger_id,
	trigger_type, direction, action, mapping_version, rule, request, response, attempt, outcome, error,
	actor_user_id, actor_remote_id, occurred_at`

// query reads up to limit rows after the id after. A candidate's rows
// come off sync_audit_candidate, the others off sync_audit_org.
func query(ctx context.Context, db Querier, f Filter, after int64, limit int) (_ []Logged, err error) {
	ctx, sp := tracer.Start(ctx, "audit.List")
	defer func() {
		if err != nil {
			sp.RecordError(err)
			sp.SetStatus(codes.Error, "audit list failed")
		}
		sp.End()
	}()
	where := []string{"org_id = $1", "id > $2"}
	args := []any{f.OrgID, after}
	add := func(column string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf("%s = $%d", column, len(args)))
	}
	if f.ConnectionID != "" {
		if !isUUID(f.ConnectionID) {
			return nil, nil
		}
		add("connection_id", f.ConnectionID)
	}
	if f.CandidateID != "" {
		add("candidate_id", f.CandidateID)
	}
	if f.Direction != "" {
		add("direction", f.Direction)
	}
	if f.Outcome != "" {
		add("outcome", f.Outcome)
	}
	if f.Action != "" {
		add("action", f.Action)
	}
	args = append(args, limit)
	sql := `SELECT ` + listColumns + ` FROM sync_audit WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, scanLogged)
	return out, postgres.MapError(err)
}

// scanLogged reads a row of listColumns.
func scanLogged(row pgx.CollectableRow) (Logged, error) {
	var l Logged
	var req, resp []byte
	err := row.Scan(&l.ID, &l.OrgID, &l.ConnectionID, &l.CandidateID, &l.OperationID, &l.TriggerID, &l.TriggerType,
		&l.Direction, &l.Action, &l.MappingVersion, &l.Rule, &req, &resp, &l.Attempt, &l.Outcome, &l.Error,
		&l.ActorUserID, &l.ActorRemoteID, &l.OccurredAt)
	if req != nil {
		l.Request = req
	}
	if resp != nil {
		l.Response = resp
	}
	return l, err
}

// isUUID reports whether s can name a row.
func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// Position is a place in the time order of the log (OccurredAt, then ID),
// the order a candidate's timeline merges the decisions in. The zero
// Position is before the first decision.
type Position struct {
	At time.Time
	ID int64
}

// Timeline limits.
const (
	MaxTimelineCandidates = 100
	// MaxTimelinePageSize is a timeline page and one more, which tells
	// the timeline whether a page follows.
	MaxTimelinePageSize = MaxPageSize + 1
)

// Timeline is Timeline over the log's database.
func (l *Log) Timeline(ctx context.Context, orgID string, candidateIDs []string, after Position, limit int) ([]Logged, error) {
	return Timeline(ctx, l.db, orgID, candidateIDs, after, limit)
}

// Timeline returns up to limit of the organization's decisions about the
// candidates, after the position after, in time order (OccurredAt, then
// ID): what outreach merges into a candidate's timeline, whose entries go
// in the same order. Candidates of another organization select nothing.
func Timeline(ctx context.Context, db Querier, orgID string, candidateIDs []string, after Position, limit int) (_ []Logged, err error) {
	if len(candidateIDs) == 0 || len(candidateIDs) > MaxTimelineCandidates {
		return nil, apperr.InvalidArgument("candidate_ids", fmt.Sprintf("must name 1 to %d candidates", MaxTimelineCandidates))
	}
	for i, id := range candidateIDs {
		if !isUUID(id) {
			return nil, apperr.InvalidArgument(fmt.Sprintf("candidate_ids[%d]", i), "must be a candidate id")
		}
	}
	size, err := paging.Size(limit, DefaultPageSize, MaxTimelinePageSize)
	if err != nil {
		return nil, err
	}
	if !isUUID(orgID) {
		return nil, nil
	}
	ctx, sp := tracer.Start(ctx, "audit.Timeline")
	defer func() {
		if err != nil {
			sp.RecordError(err)
			sp.SetStatus(codes.Error, "audit timeline failed")
		}
		sp.End()
	}()
	// No position yet reads from the start; a NULL would compare to nothing.
	at := after.At
	if at.IsZero() {
		at = time.Unix(0, 0)
		after.ID = -1
	}
	rows, err := db.Query(ctx, `SELECT `+listColumns+` FROM sync_audit
		WHERE org_id = $1 AND candidate_id = ANY($2::uuid[]) AND (occurred_at, id) > ($3, $4)
		ORDER BY occurred_at, id LIMIT $5`, orgID, candidateIDs, at, after.ID, size)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, scanLogged)
	return out, postgres.MapError(err)
}
