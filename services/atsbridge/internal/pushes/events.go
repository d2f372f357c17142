package pushes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// linkPayload is a link_candidate push's.
type linkPayload struct {
	EnrollmentID string `json:"enrollment_id"`
	FlowID       string `json:"flow_id"`
	JobID        string `json:"job_id"`
	OwnerUserID  string `json:"owner_user_id,omitempty"`
}

// stagePayload is a move_stage push's.
type stagePayload struct {
	ToStageID    string `json:"to_stage_id"`
	ToStageName  string `json:"to_stage_name,omitempty"`
	StageVersion int64  `json:"stage_version"`
}

// connection is the organization's ATS connection, in tx; false when it
// has none.
func connection(ctx context.Context, tx pgx.Tx, orgID string) (store.Connection, bool, error) {
	c, err := store.OrgConnectionTx(ctx, tx, orgID)
	if errors.Is(err, postgres.ErrNotFound) {
		return c, false, nil
	}
	return c, err == nil, err
}

// ApplyEnrollmentCreated is the events.Handler of enrollment.created: an
// enrollment in a flow linked to a job becomes a link_candidate push, in
// the event's transaction. Whether the job is the ATS's is read when the
// push is worked (a Tandem-only job is skipped then).
func (ps *Pushes) ApplyEnrollmentCreated(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p outreachv1.EnrollmentCreated
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not an EnrollmentCreated")
	}
	if ev.GetOrganizationId() == "" || p.GetEnrollmentId() == "" || p.GetCandidateId() == "" {
		return apperr.InvalidArgument("payload", "an enrollment needs an organization, an id and a candidate")
	}
	if p.GetJobId() == "" {
		return nil
	}
	conn, ok, err := connection(ctx, tx, ev.GetOrganizationId())
	if err != nil || !ok {
		return err
	}
	actor := p.GetActorUserId()
	if actor == "" {
		actor = p.GetOwnerUserId()
	}
	return ps.add(ctx, tx, store.Push{
		OperationID: "enrollment:" + p.GetEnrollmentId(), OrgID: ev.GetOrganizationId(), ConnectionID: conn.ID, CandidateID: p.GetCandidateId(),
		Kind:      KindLinkCandidate,
		Payload:   payload(linkPayload{EnrollmentID: p.GetEnrollmentId(), FlowID: p.GetFlowId(), JobID: p.GetJobId(), OwnerUserID: p.GetOwnerUserId()}),
		TriggerID: ev.GetId(), TriggerType: ev.GetType(), ActorUserID: actor,
	})
}

// ApplyStageChanged is the events.Handler of candidate.stage_changed: a
// move made in Tandem of a candidate the ATS knows (linked, or a link on
// its way) becomes a move_stage push. A move that came from the ATS is
// not pushed back.
func (ps *Pushes) ApplyStageChanged(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p outreachv1.CandidateStageChanged
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not a CandidateStageChanged")
	}
	if ev.GetOrganizationId() == "" || p.GetCandidateId() == "" || p.GetToStageId() == "" {
		return apperr.InvalidArgument("payload", "a stage change needs an organization, a candidate and a stage")
	}
	if p.GetSource() == outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS {
		return nil
	}
	conn, ok, err := connection(ctx, tx, ev.GetOrganizationId())
	if err != nil || !ok {
		return err
	}
	if err := store.LockCandidate(ctx, tx, conn.ID, p.GetCandidateId()); err != nil {
		return err
	}
	known, err := store.HasSyncState(ctx, tx, conn.ID, p.GetCandidateId())
	if err != nil {
		return fmt.Errorf("pushes: %w", err)
	}
	if !known {
		ps.log.DebugContext(ctx, "stage change of a candidate the ATS does not know", slog.String("candidate_id", p.GetCandidateId()))
		return nil
	}
	version := ev.GetVersion()
	return ps.add(ctx, tx, store.Push{
		OperationID: "stage:" + p.GetCandidateId() + ":" + strconv.FormatInt(version, 10) + ":" + ev.GetId(),
		OrgID:       ev.GetOrganizationId(), ConnectionID: conn.ID, CandidateID: p.GetCandidateId(), Kind: KindMoveStage,
		Payload:   payload(stagePayload{ToStageID: p.GetToStageId(), ToStageName: p.GetToStageName(), StageVersion: version}),
		TriggerID: ev.GetId(), TriggerType: ev.GetType(), ActorUserID: p.GetActorUserId(),
	})
}
