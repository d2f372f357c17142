package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Flow statuses.
const (
	FlowDraft     = "draft"
	FlowActive    = "active"
	FlowPaused    = "paused"
	FlowCompleted = "completed"
	FlowArchived  = "archived"
)

// Enrollment statuses and stop reasons.
const (
	EnrollmentActive  = "active"
	EnrollmentPaused  = "paused"
	EnrollmentStopped = "stopped"

	StopReplied        = "replied"
	StopBounced        = "bounced"
	StopFinished       = "finished"
	StopRemoved        = "removed"
	StopFlowCompleted  = "flow_completed"
	StopStageFinal     = "stage_final"
	StopUndeliverable  = "undeliverable"
	StopMerged         = "merged"
	notSubmitted       = -1
	flowStatsStepIndex = -1
)

// Sentinels of flows and enrollments.
var (
	// ErrAlreadyEnrolled is a candidate enrolled in this flow before.
	ErrAlreadyEnrolled = errors.New("candidate is enrolled in this flow already")
)

// InAnotherFlowError is a candidate running in another flow.
type InAnotherFlowError struct{ FlowID string }

func (e *InAnotherFlowError) Error() string { return "candidate is in flow " + e.FlowID }

// FlowStep is one e-mail of a version.
type FlowStep struct {
	// DelayUnit is "hours", "days" or "business_days".
	DelayUnit string `json:"delay_unit"`
	Delay     int    `json:"delay"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	NewThread bool   `json:"new_thread"`
}

// FlowVersion is what a version fixes: the sender, the calendar, the steps.
type FlowVersion struct {
	Version             int
	MailboxConnectionID string
	SenderUserID        string
	SenderName          string
	SenderEmail         string
	TimeZone            string
	// WindowDays are ISO weekdays, 1 (Monday) to 7.
	WindowDays             []int
	WindowStart, WindowEnd int // minutes since local midnight
	Holidays               []string
	Steps                  []FlowStep
	JobID                  string
	CreatedAt              time.Time
}

// Flow is a flow at its current version.
type Flow struct {
	ID          string
	OrgID       string
	Name        string
	OwnerUserID string
	Status      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Current     FlowVersion
}

const flowColumns = `f.id::text, f.org_id::text, f.name, f.owner_user_id, f.status, f.created_at, f.updated_at,
	v.version, v.mailbox_connection_id, v.sender_user_id, v.sender_name, v.sender_email, v.time_zone, v.window_days,
	v.window_start, v.window_end, coalesce((SELECT array_agg(to_char(h, 'YYYY-MM-DD') ORDER BY h) FROM unnest(v.holidays) h), '{}'),
	v.steps, coalesce(v.job_id::text, ''), v.created_at`

func scanFlow(row pgx.Row) (Flow, error) {
	var fs flowScan
	if err := row.Scan(fs.dest()...); err != nil {
		return Flow{}, postgres.MapError(err)
	}
	return fs.finish()
}

// flowScan is a flow being read, as candidateScan is a candidate.
type flowScan struct {
	f     Flow
	steps []byte
}

func (s *flowScan) dest() []any {
	f, v := &s.f, &s.f.Current
	return []any{&f.ID, &f.OrgID, &f.Name, &f.OwnerUserID, &f.Status, &f.CreatedAt, &f.UpdatedAt,
		&v.Version, &v.MailboxConnectionID, &v.SenderUserID, &v.SenderName, &v.SenderEmail, &v.TimeZone, &v.WindowDays,
		&v.WindowStart, &v.WindowEnd, &v.Holidays, &s.steps, &v.JobID, &v.CreatedAt}
}

func (s *flowScan) finish() (Flow, error) {
	f := s.f
	if err := json.Unmarshal(s.steps, &f.Current.Steps); err != nil {
		return Flow{}, fmt.Errorf("flow %s: steps: %w", f.ID, err)
	}
	return f, nil
}

// InTx runs fn in a transaction; the flows domain composes the store's
// transactional steps with its jobs and events this way.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error { return s.inTx(ctx, fn) }

// CreateFlow stores a Draft flow at version 1 with its figures at zero.
func (s *Store) CreateFlow(ctx context.Context, f Flow) (_ Flow, err error) {
	ctx, sp := span(ctx, "CreateFlow")
	defer func() { end(sp, err) }()
	id, err := newID()
	if err != nil {
		return Flow{}, err
	}
	var out Flow
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO flows (id, org_id, name, owner_user_id, status, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'draft', 1, now(), now())`, id, f.OrgID, f.Name, f.OwnerUserID); err != nil {
			return postgres.MapError(err)
		}
		f.Current.Version = 1
		if err := insertVersion(ctx, tx, id, f.Current); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO flow_stats (flow_id, step_index) VALUES ($1, $2)`, id, flowStatsStepIndex); err != nil {
			return postgres.MapError(err)
		}
		out, err = FlowTx(ctx, tx, f.OrgID, id, "")
		return err
	})
	return out, err
}

func insertVersion(ctx context.Context, tx pgx.Tx, flowID string, v FlowVersion) error {
	steps, err := json.Marshal(nonNil(v.Steps))
	if err != nil {
		return fmt.Errorf("steps: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO flow_versions (flow_id, version, mailbox_connection_id, sender_user_id, sender_name, sender_email,
		time_zone, window_days, window_start, window_end, holidays, steps, job_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[]::date[], $12, nullif($13, '')::uuid, now())`,
		flowID, v.Version, v.MailboxConnectionID, v.SenderUserID, v.SenderName, v.SenderEmail, v.TimeZone, nonNil(v.WindowDays),
		v.WindowStart, v.WindowEnd, nonNil(v.Holidays), steps, v.JobID)
	return postgres.MapError(err)
}

// FlowTx reads a flow of the organization at its current version, with
// lock appended to the query ("FOR UPDATE" of the flow row, or "").
func FlowTx(ctx context.Context, q querier, orgID, id, lock string) (Flow, error) {
	if !isUUID(id) {
		return Flow{}, postgres.ErrNotFound
	}
	if lock != "" {
		lock += " OF f"
	}
	return scanFlow(q.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version
		WHERE f.org_id = $1 AND f.id = $2 `+lock, orgID, id))
}

// Flow reads a flow of the organization.
func (s *Store) Flow(ctx context.Context, orgID, id string) (_ Flow, err error) {
	ctx, sp := span(ctx, "Flow")
	defer func() { end(sp, err) }()
	return FlowTx(ctx, s.db, orgID, id, "")
}

// FlowAt reads a flow with the settings of one of its versions.
func FlowAt(ctx context.Context, q querier, orgID, id string, version int) (Flow, error) {
	if !isUUID(id) {
		return Flow{}, postgres.ErrNotFound
	}
	return scanFlow(q.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = $3
		WHERE f.org_id = $1 AND f.id = $2`, orgID, id, version))
}

// FlowVersion reads a flow with the settings of one of its versions.
func (s *Store) FlowVersion(ctx context.Context, orgID, id string, version int) (_ Flow, err error) {
	ctx, sp := span(ctx, "FlowVersion")
	defer func() { end(sp, err) }()
	return FlowAt(ctx, s.db, orgID, id, version)
}

// FlowCursor is the position after the last flow of a page.
type FlowCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListFlows returns at most limit flows of the organization, newest first,
// after the cursor; status "" lists every status but archived.
func (s *Store) ListFlows(ctx context.Context, orgID, status string, after *FlowCursor, limit int) (_ []Flow, err error) {
	ctx, sp := span(ctx, "ListFlows")
	defer func() { end(sp, err) }()
	args := []any{orgID, status, limit}
	where := `f.org_id = $1 AND (($2 = '' AND f.status <> 'archived') OR f.status = $2)`
	if after != nil {
		if !isUUID(after.ID) {
			return nil, postgres.ErrNotFound
		}
		args = append(args, after.CreatedAt, after.ID)
		where += ` AND (f.created_at, f.id) < ($4, $5::uuid)`
	}
	rows, err := s.db.Query(ctx, `SELECT `+flowColumns+` FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version
		WHERE `+where+` ORDER BY f.created_at DESC, f.id DESC LIMIT $3`, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []Flow{}
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, postgres.MapError(rows.Err())
}

// WriteFlow stores next over cur (the same flow, read under its lock): the
// name, and the version: a Draft's only version changes in place, any
// other status gets version cur's + 1.
func WriteFlow(ctx context.Context, tx pgx.Tx, cur, next Flow) (Flow, error) {
	v := next.Current
	if cur.Status == FlowDraft {
		v.Version = cur.Current.Version
		if _, err := tx.Exec(ctx, `DELETE FROM flow_versions WHERE flow_id = $1 AND version = $2`, cur.ID, v.Version); err != nil {
			return Flow{}, postgres.MapError(err)
		}
	} else {
		v.Version = cur.Current.Version + 1
	}
	if err := insertVersion(ctx, tx, cur.ID, v); err != nil {
		return Flow{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE flows SET name = $2, version = $3, updated_at = now() WHERE id = $1`, cur.ID, next.Name, v.Version); err != nil {
		return Flow{}, postgres.MapError(err)
	}
	return FlowTx(ctx, tx, cur.OrgID, cur.ID, "")
}

// SetFlowStatus changes a flow's status.
func SetFlowStatus(ctx context.Context, tx pgx.Tx, f Flow, status string) (Flow, error) {
	if _, err := tx.Exec(ctx, `UPDATE flows SET status = $2, updated_at = now() WHERE id = $1`, f.ID, status); err != nil {
		return Flow{}, postgres.MapError(err)
	}
	return FlowTx(ctx, tx, f.OrgID, f.ID, "")
}

// Enrollment is a candidate going through a flow.
type Enrollment struct {
	ID          string
	OrgID       string
	FlowID      string
	CandidateID string
	FlowVersion int
	Status      string
	StopReason  string
	// NextStep is the step to send next, or being sent.
	NextStep   int
	NextSendAt *time.Time
	// ScheduleSeq grows with each new send time; a step job carries it.
	ScheduleSeq int
	// SubmittedStep is the step with mailbox, waiting for message.sent;
	// -1 when none.
	SubmittedStep int
	// SubmittedMessageID is mailbox's message of the submitted step.
	SubmittedMessageID    string
	StepsSent             int
	ToAddress             string
	LastProviderMessageID string
	LastInternetMessageID string
	ConversationID        string
	LastSentAt            *time.Time
	RepliedAt             *time.Time
	BouncedAt             *time.Time
	InterestedAt          *time.Time
	CreatedBy             string
	CreatedAt             time.Time
	UpdatedAt             time.Time
	StoppedAt             *time.Time
}

// Running reports whether the enrollment may still send.
func (e Enrollment) Running() bool {
	return e.Status == EnrollmentActive || e.Status == EnrollmentPaused
}

const enrollmentColumns = `id::text, org_id::text, flow_id::text, candidate_id::text, flow_version, status, stop_reason, next_step,
	next_send_at, schedule_seq, submitted_step, steps_sent, to_address, last_provider_message_id, last_internet_message_id,
	conversation_id, last_sent_at, replied_at, bounced_at, interested_at, created_by, created_at, updated_at, stopped_at, submitted_message_id`

func scanEnrollment(row pgx.Row) (Enrollment, error) {
	var e Enrollment
	err := row.Scan(enrollmentDest(&e)...)
	return e, postgres.MapError(err)
}

// enrollmentDest are the destinations of enrollmentColumns.
func enrollmentDest(e *Enrollment) []any {
	return []any{&e.ID, &e.OrgID, &e.FlowID, &e.CandidateID, &e.FlowVersion, &e.Status, &e.StopReason, &e.NextStep,
		&e.NextSendAt, &e.ScheduleSeq, &e.SubmittedStep, &e.StepsSent, &e.ToAddress, &e.LastProviderMessageID, &e.LastInternetMessageID,
		&e.ConversationID, &e.LastSentAt, &e.RepliedAt, &e.BouncedAt, &e.InterestedAt, &e.CreatedBy, &e.CreatedAt, &e.UpdatedAt, &e.StoppedAt, &e.SubmittedMessageID}
}

func collectEnrollments(rows pgx.Rows, err error) ([]Enrollment, error) {
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []Enrollment{}
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, postgres.MapError(rows.Err())
}

// EnrollmentTx reads an enrollment of the organization, with lock
// appended ("FOR UPDATE" or "").
func EnrollmentTx(ctx context.Context, q querier, orgID, id, lock string) (Enrollment, error) {
	if !isUUID(id) {
		return Enrollment{}, postgres.ErrNotFound
	}
	return scanEnrollment(q.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE org_id = $1 AND id = $2 `+lock, orgID, id))
}

// Enrollment reads an enrollment of the organization.
func (s *Store) Enrollment(ctx context.Context, orgID, id string) (_ Enrollment, err error) {
	ctx, sp := span(ctx, "Enrollment")
	defer func() { end(sp, err) }()
	return EnrollmentTx(ctx, s.db, orgID, id, "")
}

// ListEnrollments returns at most limit enrollments of the flow in id
// (creation) order after the id afterID ("" from the start).
func (s *Store) ListEnrollments(ctx context.Context, orgID, flowID, afterID string, limit int) (_ []Enrollment, err error) {
	ctx, sp := span(ctx, "ListEnrollments")
	defer func() { end(sp, err) }()
	if !isUUID(flowID) || (afterID != "" && !isUUID(afterID)) {
		return nil, postgres.ErrNotFound
	}
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	return collectEnrollments(s.db.Query(ctx, `SELECT `+enrollmentColumns+` FROM enrollments
		WHERE org_id = $1 AND flow_id = $2 AND id > $3 ORDER BY id LIMIT $4`, orgID, flowID, afterID, limit))
}

// InsertEnrollment enrolls a candidate (the caller checked it exists and
// has an address): an enrollment of the candidate in this flow is
// ErrAlreadyEnrolled, one running in another flow an *InAnotherFlowError.
// It counts the enrollment in the flow's figures.
func InsertEnrollment(ctx context.Context, tx pgx.Tx, e Enrollment) (Enrollment, error) {
	var existing, otherFlow string
	err := tx.QueryRow(ctx, `SELECT id::text, flow_id::text FROM enrollments WHERE candidate_id = $1 AND (flow_id = $2 OR status IN ('active', 'paused'))
		ORDER BY flow_id = $2 DESC LIMIT 1`, e.CandidateID, e.FlowID).Scan(&existing, &otherFlow)
	switch err = postgres.MapError(err); {
	case err == nil && otherFlow == e.FlowID:
		return Enrollment{ID: existing}, ErrAlreadyEnrolled
	case err == nil:
		return Enrollment{}, &InAnotherFlowError{FlowID: otherFlow}
	case !errors.Is(err, postgres.ErrNotFound):
		return Enrollment{}, err
	}
	id, err := newID()
	if err != nil {
		return Enrollment{}, err
	}
	// A concurrent enrollment of the same candidate waits on the unique
	// indexes and then fails here; the caller's savepoint reports it.
	out, err := scanEnrollment(tx.QueryRow(ctx, `INSERT INTO enrollments (id, org_id, flow_id, candidate_id, flow_version, status, next_send_at,
		schedule_seq, to_address, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, now(), now()) RETURNING `+enrollmentColumns,
		id, e.OrgID, e.FlowID, e.CandidateID, e.FlowVersion, e.NextSendAt, e.ScheduleSeq, e.ToAddress, e.CreatedBy))
	if errors.Is(err, postgres.ErrConflict) {
		return Enrollment{}, fmt.Errorf("%w: %w", ErrAlreadyEnrolled, err)
	}
	if err != nil {
		return Enrollment{}, err
	}
	return out, AddStats(ctx, tx, e.FlowID, flowStatsStepIndex, Stats{Enrolled: 1})
}

// WriteEnrollment stores the enrollment's state as e says.
func WriteEnrollment(ctx context.Context, tx pgx.Tx, e Enrollment) (Enrollment, error) {
	return scanEnrollment(tx.QueryRow(ctx, `UPDATE enrollments SET status = $2, stop_reason = $3, next_step = $4, next_send_at = $5,
		schedule_seq = $6, submitted_step = $7, steps_sent = $8, to_address = $9, last_provider_message_id = $10,
		last_internet_message_id = $11, conversation_id = $12, last_sent_at = $13, replied_at = $14, bounced_at = $15,
		interested_at = $16, stopped_at = $17, submitted_message_id = $18, updated_at = now() WHERE id = $1 RETURNING `+enrollmentColumns,
		e.ID, e.Status, e.StopReason, e.NextStep, e.NextSendAt, e.ScheduleSeq, e.SubmittedStep, e.StepsSent, e.ToAddress,
		e.LastProviderMessageID, e.LastInternetMessageID, e.ConversationID, e.LastSentAt, e.RepliedAt, e.BouncedAt,
		e.InterestedAt, e.StoppedAt, e.SubmittedMessageID))
}

// Stop marks e stopped for reason at now (the caller writes it).
func (e *Enrollment) Stop(reason string, now time.Time) {
	e.Status, e.StopReason, e.NextSendAt, e.StoppedAt = EnrollmentStopped, reason, nil, &now
}

// PendingEnrollments returns the flow's active enrollments whose step has
// a send time at or before before (scheduled: true), or none yet and
// nothing with mailbox (scheduled: false, the draft's enrollments), in
// send time, then id, order, locked.
func PendingEnrollments(ctx context.Context, tx pgx.Tx, flowID string, scheduled bool, before time.Time) ([]Enrollment, error) {
	if scheduled {
		return collectEnrollments(tx.Query(ctx, `SELECT `+enrollmentColumns+` FROM enrollments
			WHERE flow_id = $1 AND status = 'active' AND next_send_at <= $2 ORDER BY next_send_at, id FOR UPDATE`, flowID, before))
	}
	return collectEnrollments(tx.Query(ctx, `SELECT `+enrollmentColumns+` FROM enrollments
		WHERE flow_id = $1 AND status = 'active' AND next_send_at IS NULL AND submitted_step = -1 AND steps_sent = 0 ORDER BY id FOR UPDATE`, flowID))
}

// StopRunning stops every running enrollment of the flow for reason.
func StopRunning(ctx context.Context, tx pgx.Tx, flowID, reason string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE enrollments SET status = 'stopped', stop_reason = $2, next_send_at = NULL, stopped_at = now(), updated_at = now()
		WHERE flow_id = $1 AND status IN ('active', 'paused')`, flowID, reason)
	return tag.RowsAffected(), postgres.MapError(err)
}

// CompleteIfDone completes an active or paused flow none of whose
// enrollments is running any more, and reports whether it did.
func CompleteIfDone(ctx context.Context, tx pgx.Tx, flowID string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE flows SET status = 'completed', updated_at = now() WHERE id = $1 AND status IN ('active', 'paused')
		AND NOT EXISTS (SELECT 1 FROM enrollments WHERE flow_id = $1 AND status IN ('active', 'paused'))`, flowID)
	return tag.RowsAffected() == 1, postgres.MapError(err)
}

// Stats are counts a change adds to a flow's figures.
type Stats struct {
	Enrolled, Contacted, Sent, Opened, Replied, Interested, Bounced int64
}

// StepStats are the figures of a step (StepIndex -1: the flow's own).
type StepStats struct {
	StepIndex int
	Stats
}

// AddStats adds d to the figures of the flow's step (-1: the flow's row).
func AddStats(ctx context.Context, tx pgx.Tx, flowID string, step int, d Stats) error {
	_, err := tx.Exec(ctx, `INSERT INTO flow_stats (flow_id, step_index, enrolled, contacted, sent, opened, replied, interested, bounced)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (flow_id, step_index) DO UPDATE SET enrolled = flow_stats.enrolled + excluded.enrolled,
		contacted = flow_stats.contacted + excluded.contacted, sent = flow_stats.sent + excluded.sent,
		opened = flow_stats.opened + excluded.opened, replied = flow_stats.replied + excluded.replied,
		interested = flow_stats.interested + excluded.interested, bounced = flow_stats.bounced + excluded.bounced`,
		flowID, step, d.Enrolled, d.Contacted, d.Sent, d.Opened, d.Replied, d.Interested, d.Bounced)
	return postgres.MapError(err)
}

// FlowStepIndex is the row of the flow's own figures in FlowStats.
const FlowStepIndex = flowStatsStepIndex

// FlowStats returns the flow's figures, its own row first, then by step.
func (s *Store) FlowStats(ctx context.Context, orgID, flowID string) (_ []StepStats, err error) {
	ctx, sp := span(ctx, "FlowStats")
	defer func() { end(sp, err) }()
	if _, err := FlowTx(ctx, s.db, orgID, flowID, ""); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT step_index, enrolled, contacted, sent, opened, replied, interested, bounced
		FROM flow_stats WHERE flow_id = $1 ORDER BY step_index`, flowID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []StepStats
	for rows.Next() {
		var r StepStats
		if err := rows.Scan(&r.StepIndex, &r.Enrolled, &r.Contacted, &r.Sent, &r.Opened, &r.Replied, &r.Interested, &r.Bounced); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, r)
	}
	return out, postgres.MapError(rows.Err())
}

// MarkUndeliverable records that an address bounced for good.
func MarkUndeliverable(ctx context.Context, tx pgx.Tx, orgID, address, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO undeliverable_addresses (org_id, address, reason, created_at) VALUES ($1, lower(btrim($2)), $3, now())
		ON CONFLICT DO NOTHING`, orgID, address, reason)
	return postgres.MapError(err)
}

// Undeliverable returns which of the addresses bounced for good, as
// given.
func Undeliverable(ctx context.Context, q pgx.Tx, orgID string, addresses []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(addresses) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT a FROM unnest($2::text[]) a WHERE EXISTS (SELECT 1 FROM undeliverable_addresses u
		WHERE u.org_id = $1 AND u.address = lower(btrim(a)))`, orgID, addresses)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, postgres.MapError(err)
	}
	for _, a := range list {
		out[a] = true
	}
	return out, nil
}

// CandidateTx reads a candidate of the organization in tx.
func CandidateTx(ctx context.Context, tx pgx.Tx, orgID, id string) (Candidate, error) {
	return candidate(ctx, tx, orgID, id, "")
}

// Delegation lets a teammate send from the grantor's mailbox.
type Delegation struct {
	GrantorUserID string
	GranteeUserID string
	CreatedAt     time.Time
}

// GrantDelegation records a delegation; granting it again changes nothing.
func (s *Store) GrantDelegation(ctx context.Context, orgID, grantor, grantee string) (_ Delegation, err error) {
	ctx, sp := span(ctx, "GrantDelegation")
	defer func() { end(sp, err) }()
	var d Delegation
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sending_delegations (org_id, grantor_user_id, grantee_user_id, created_at) VALUES ($1, $2, $3, now())
			ON CONFLICT DO NOTHING`, orgID, grantor, grantee); err != nil {
			return postgres.MapError(err)
		}
		return postgres.MapError(tx.QueryRow(ctx, `SELECT grantor_user_id, grantee_user_id, created_at FROM sending_delegations
			WHERE org_id = $1 AND grantor_user_id = $2 AND grantee_user_id = $3`, orgID, grantor, grantee).Scan(&d.GrantorUserID, &d.GranteeUserID, &d.CreatedAt))
	})
	return d, err
}

// RevokeDelegation removes a delegation; a missing one is ErrNotFound.
func (s *Store) RevokeDelegation(ctx context.Context, orgID, grantor, grantee string) (err error) {
	ctx, sp := span(ctx, "RevokeDelegation")
	defer func() { end(sp, err) }()
	tag, err := s.db.Exec(ctx, `DELETE FROM sending_delegations WHERE org_id = $1 AND grantor_user_id = $2 AND grantee_user_id = $3`, orgID, grantor, grantee)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return postgres.ErrNotFound
	}
	return nil
}

// HasDelegation reports whether grantor lets grantee send on their behalf.
func (s *Store) HasDelegation(ctx context.Context, orgID, grantor, grantee string) (_ bool, err error) {
	ctx, sp := span(ctx, "HasDelegation")
	defer func() { end(sp, err) }()
	var ok bool
	err = s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sending_delegations WHERE org_id = $1 AND grantor_user_id = $2 AND grantee_user_id = $3)`,
		orgID, grantor, grantee).Scan(&ok)
	return ok, postgres.MapError(err)
}

// DelegationCursor is the position after the last delegation of a page.
type DelegationCursor struct{ Grantor, Grantee string }

// Delegations returns at most limit delegations the user granted or
// received, by grantor then grantee, after the cursor.
func (s *Store) Delegations(ctx context.Context, orgID, userID string, after *DelegationCursor, limit int) (_ []Delegation, err error) {
	ctx, sp := span(ctx, "Delegations")
	defer func() { end(sp, err) }()
	if after == nil {
		after = &DelegationCursor{}
	}
	rows, err := s.db.Query(ctx, `SELECT grantor_user_id, grantee_user_id, created_at FROM sending_delegations
		WHERE org_id = $1 AND (grantor_user_id = $2 OR grantee_user_id = $2) AND (grantor_user_id, grantee_user_id) > ($3, $4)
		ORDER BY grantor_user_id, grantee_user_id LIMIT $5`, orgID, userID, after.Grantor, after.Grantee, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []Delegation{}
	for rows.Next() {
		var d Delegation
		if err := rows.Scan(&d.GrantorUserID, &d.GranteeUserID, &d.CreatedAt); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, d)
	}
	return out, postgres.MapError(rows.Err())
}

// StageNamed returns the organization's active stage of that name
// (case-insensitive), creating the defaults on first use.
func StageNamed(ctx context.Context, tx pgx.Tx, orgID, name string) (Stage, error) {
	if err := ensureStages(ctx, tx, orgID); err != nil {
		return Stage{}, err
	}
	st, err := scanStage(tx.QueryRow(ctx, `SELECT `+stageColumns+` FROM stages WHERE org_id = $1 AND lower(name) = lower($2) AND retired_at IS NULL`, orgID, name))
	if errors.Is(err, postgres.ErrNotFound) {
		return Stage{}, ErrStageNotFound
	}
	return st, err
}

// AdvanceCandidate moves a live candidate to the active stage named
// stageName, unless the candidate already is there or in a later stage
// (DESIGN §7: a reply moves to Replied "unless a later stage is set").
// An organization without such a stage (renamed) moves nobody.
func AdvanceCandidate(ctx context.Context, tx pgx.Tx, orgID, candidateID, stageName string, m Move, publish Publish) (bool, error) {
	to, err := StageNamed(ctx, tx, orgID, stageName)
	if errors.Is(err, ErrStageNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c, err := candidate(ctx, tx, orgID, candidateID, "FOR UPDATE")
	if err != nil {
		return false, err
	}
	if !c.Live() {
		return false, nil
	}
	var from Stage
	if c.StageID != "" {
		if from, err = scanStage(tx.QueryRow(ctx, `SELECT `+stageColumns+` FROM stages WHERE id = $1`, c.StageID)); err != nil {
			return false, err
		}
		if from.ID == to.ID || (from.RetiredAt == nil && from.Position >= to.Position) {
			return false, nil
		}
	}
	_, err = moveCandidate(ctx, tx, c, from, to, m, publish)
	return err == nil, err
}

// Stage names the flows' rules look for (DESIGN §7 defaults).
const (
	StageContacted  = "Contacted"
	StageReplied    = "Replied"
	StageInterested = "Interested"
)

// afterStageMove keeps flows in step with a stage move, in its
// transaction: reaching Interested or later counts the candidate as
// interested in the flow of its latest enrollment; a move past Replied
// stops a running enrollment (the recruiter has taken over).
func afterStageMove(ctx context.Context, tx pgx.Tx, c Candidate, to Stage) error {
	e, err := scanEnrollment(tx.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE candidate_id = $1
		ORDER BY status IN ('active', 'paused') DESC, created_at DESC LIMIT 1 FOR UPDATE`, c.ID))
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	positions := map[string]int{}
	rows, err := tx.Query(ctx, `SELECT lower(name), position FROM stages WHERE org_id = $1 AND retired_at IS NULL AND lower(name) = ANY($2)`,
		c.OrgID, []string{strings.ToLower(StageReplied), strings.ToLower(StageInterested)})
	if err != nil {
		return postgres.MapError(err)
	}
	for rows.Next() {
		var n string
		var p int
		if err := rows.Scan(&n, &p); err != nil {
			rows.Close()
			return postgres.MapError(err)
		}
		positions[n] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return postgres.MapError(err)
	}
	changed := false
	now := time.Now()
	if p, ok := positions[strings.ToLower(StageInterested)]; ok && to.Position >= p && e.InterestedAt == nil {
		e.InterestedAt, changed = &now, true
		if err := AddStats(ctx, tx, e.FlowID, flowStatsStepIndex, Stats{Interested: 1}); err != nil {
			return err
		}
		if e.StepsSent > 0 {
			if err := AddStats(ctx, tx, e.FlowID, e.StepsSent-1, Stats{Interested: 1}); err != nil {
				return err
			}
		}
	}
	if p, ok := positions[strings.ToLower(StageReplied)]; ok && to.Position > p && e.Running() {
		e.Stop(StopStageFinal, now)
		changed = true
	}
	if !changed {
		return nil
	}
	if _, err := WriteEnrollment(ctx, tx, e); err != nil {
		return err
	}
	if e.Status == EnrollmentStopped {
		_, err = CompleteIfDone(ctx, tx, e.FlowID)
	}
	return err
}

// LockCandidate takes a candidate's row lock.
func LockCandidate(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM candidates WHERE id = $1 FOR UPDATE`, id)
	return postgres.MapError(err)
}
