package pushes

import (
	"context"
	"errors"
	"fmt"
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

// notePayload is an add_note push's.
type notePayload struct {
	NoteID    string `json:"note_id"`
	Body      string `json:"body"`
	CreatedAt int64  `json:"created_at_ms"`
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

// knownCandidate finds the organization's connection and, under the
// candidate's lock, whether the ATS knows the candidate (a link, or a push
// on its way): only then do its later changes become pushes.
func knownCandidate(ctx context.Context, tx pgx.Tx, orgID, candidateID string) (store.Connection, bool, error) {
	conn, ok, err := connection(ctx, tx, orgID)
	if err != nil || !ok {
		return conn, false, err
	}
	if err := store.LockCandidate(ctx, tx, conn.ID, candidateID); err != nil {
		return conn, false, err
	}
	known, err := store.HasSyncState(ctx, tx, conn.ID, candidateID)
	if err != nil {
		return conn, false, fmt.Errorf("pushes: %w", err)
	}
	return conn, known, nil
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
	conn, known, err := knownCandidate(ctx, tx, ev.GetOrganizationId(), p.GetCandidateId())
	if err != nil || !known {
		return err
	}
	version := ev.GetVersion()
	return ps.add(ctx, tx, store.Push{
		OperationID: "stage:" + p.GetCandidateId() + ":" + strconv.FormatInt(version, 10) + ":" + ev.GetId(),
		OrgID:       ev.GetOrganizationId(), ConnectionID: conn.ID, CandidateID: p.GetCandidateId(), Kind: KindMoveStage,
		Payload:   payload(stagePayload{ToStageID: p.GetToStageId(), ToStageName: p.GetToStageName(), StageVersion: version}),
		TriggerID: ev.GetId(), TriggerType: ev.GetType(), ActorUserID: p.GetActorUserId(),
	})
}

// ApplyNoteCreated is the events.Handler of note.created: a public note
// on a candidate the ATS knows becomes an add_note push (private notes
// never leave Tandem; outreach publishes none, and one that came would be
// dropped here too).
func (ps *Pushes) ApplyNoteCreated(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p outreachv1.NoteChanged
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not a NoteChanged")
	}
	if ev.GetOrganizationId() == "" || p.GetCandidateId() == "" || p.GetNoteId() == "" {
		return apperr.InvalidArgument("payload", "a note needs an organization, a candidate and an id")
	}
	if p.GetPrivate() || p.GetBody() == "" {
		return nil
	}
	conn, known, err := knownCandidate(ctx, tx, ev.GetOrganizationId(), p.GetCandidateId())
	if err != nil || !known {
		return err
	}
	return ps.add(ctx, tx, store.Push{
		OperationID: "note:" + p.GetNoteId(), OrgID: ev.GetOrganizationId(), ConnectionID: conn.ID, CandidateID: p.GetCandidateId(), Kind: KindAddNote,
		Payload:   payload(notePayload{NoteID: p.GetNoteId(), Body: p.GetBody(), CreatedAt: p.GetCreateTime().AsTime().UnixMilli()}),
		TriggerID: ev.GetId(), TriggerType: ev.GetType(), ActorUserID: p.GetAuthorUserId(),
	})
}
