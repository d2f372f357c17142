package stages

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// EventATSStageChanged is atsbridge's event: a linked candidate moved in
// the ATS, mapped to one of the organization's stages (LV-5).
const EventATSStageChanged = "ats.stage_changed"

// ApplyATSStageChanged is the events.Handler of ats.stage_changed: it moves
// the candidate in the event's transaction with source ats, on the
// timeline with the mapping's rule as the reason, so atsbridge never
// pushes the move back. The receiver has dropped a delivery older than one
// applied (the version is the ATS's time of the change). A candidate that
// is gone, merged away or archived, or a stage retired since, is
// acknowledged without a move: the next change in the ATS applies again.
func (s *Stages) ApplyATSStageChanged(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p atsbridgev1.AtsStageChanged
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not an AtsStageChanged")
	}
	if ev.GetOrganizationId() == "" || p.GetCandidateId() == "" || p.GetToStageId() == "" {
		return apperr.InvalidArgument("payload", "an ATS stage change needs an organization, a candidate and a stage")
	}
	reason := p.GetRule()
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	_, err := store.MoveCandidateTx(ctx, tx, ev.GetOrganizationId(), p.GetCandidateId(), p.GetToStageId(),
		store.Move{Reason: reason, Source: SourceATS}, s.publish)
	switch {
	case errors.Is(err, postgres.ErrNotFound), errors.Is(err, store.ErrNotLive), errors.Is(err, store.ErrStageNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("stages: apply %s to candidate %s: %w", EventATSStageChanged, p.GetCandidateId(), err)
	}
	return nil
}
