package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// EventStageChanged tells outreach a linked candidate moved in the ATS.
const EventStageChanged = "ats.stage_changed"

// Origins of an observed change.
const (
	OriginWebhook   = "webhook"
	OriginReconcile = "reconcile"
)

// Audit actions of the inbound sync.
const (
	ActionApplyStage     = "apply_stage"
	ActionEchoSuppressed = "echo_suppressed"
	ActionSkipped        = "skipped"
)

// PendingArchivePrefix marks a push archiving the opportunity in
// candidate_links.pending_stage_id: "archived:<archive reason id>"; a stage
// push writes the stage id itself (the convention the push engine shares).
const PendingArchivePrefix = "archived:"

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// TandemStages lists the organization's Tandem stages (outreach), for the
// audit's readable rule.
type TandemStages interface {
	ActiveStages(ctx context.Context, orgID string) ([]mappings.TandemStage, error)
}

// ApplyStore is what applying a change reads and writes.
type ApplyStore interface {
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	Mapping(ctx context.Context, connectionID string, version int) (store.Mapping, error)
	ATSSides(ctx context.Context, connectionID string) (store.Sides, error)
	LockLink(ctx context.Context, tx pgx.Tx, connectionID, remoteOpportunityID string) (store.LinkState, error)
	MoveLink(ctx context.Context, tx pgx.Tx, connectionID, remoteOpportunityID string, to store.Place, mappingVersion int, at time.Time) error
}

// Observed is a change seen in the ATS: where an opportunity is now, and
// when the ATS put it there.
type Observed struct {
	Connection    store.Connection
	OpportunityID string
	Place         store.Place
	At            time.Time
	Origin        string
	// TriggerID and TriggerType name what reported it: the delivery id and
	// lever:<event>, or the reconcile run.
	TriggerID, TriggerType string
	// Request is what the log keeps of the report (no secrets).
	Request any
}

// Decision is what applying a change did.
type Decision struct {
	// Applied: the link moved and outreach was told.
	Applied bool
	Action  string
	Why     string
}

// Applier applies observed changes through the connection's mapping.
type Applier struct {
	store  ApplyStore
	pub    Publisher
	tandem TandemStages
	log    *slog.Logger
}

// NewApplier returns the applier. tandem may be nil: the rule then names
// Tandem's stage by id.
func NewApplier(st ApplyStore, pub Publisher, tandem TandemStages, log *slog.Logger) *Applier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{store: st, pub: pub, tandem: tandem, log: log}
}

// Plan is what an application needs read before its transaction: the
// current mapping (nil when none is saved) and the names of both sides.
type Plan struct {
	Mapping *store.Mapping
	names   placeNames
}

type placeNames struct {
	stages, reasons, tandem map[string]string
}

// Prepare reads the mapping and the names, outside any transaction (the
// Tandem stage names come from outreach).
func (a *Applier) Prepare(ctx context.Context, conn store.Connection) (Plan, error) {
	var p Plan
	m, err := a.store.Mapping(ctx, conn.ID, 0)
	switch {
	case err == nil:
		p.Mapping = &m
	case errors.Is(err, postgres.ErrNotFound):
	default:
		return p, err
	}
	sides, err := a.store.ATSSides(ctx, conn.ID)
	if err != nil {
		return p, err
	}
	p.names = placeNames{stages: map[string]string{}, reasons: map[string]string{}, tandem: map[string]string{}}
	for _, s := range sides.Stages {
		p.names.stages[s.RemoteID] = s.Name
	}
	for _, r := range sides.Reasons {
		p.names.reasons[r.RemoteID] = r.Text
	}
	if a.tandem != nil && p.Mapping != nil {
		stages, err := a.tandem.ActiveStages(ctx, conn.OrgID)
		if err != nil {
			// Only the rule's wording needs them.
			a.log.WarnContext(ctx, "inbound: Tandem's stage names unavailable; the rule names ids", slog.Any("error", err))
		}
		for _, s := range stages {
			p.names.tandem[s.ID] = s.Name
		}
	}
	return p, nil
}

func (n placeNames) ats(p store.Place) string {
	if p.ArchiveReasonID != "" {
		name := n.reasons[p.ArchiveReasonID]
		if name == "" {
			name = p.ArchiveReasonID
		}
		return "archived: " + name
	}
	if name := n.stages[p.StageID]; name != "" {
		return name
	}
	return p.StageID
}

func (n placeNames) tandemStage(id string) string {
	if name := n.tandem[id]; name != "" {
		return name
	}
	return id
}

func (p Plan) target(place store.Place) (string, bool) {
	if p.Mapping == nil {
		return "", false
	}
	for _, r := range p.Mapping.FromATS {
		if r.ATS == place {
			return r.TandemStageID, r.TandemStageID != ""
		}
	}
	return "", false
}

// pendingIs reports whether a push is writing place right now.
func pendingIs(pending string, place store.Place) bool {
	if pending == "" {
		return false
	}
	if reason, ok := strings.CutPrefix(pending, PendingArchivePrefix); ok {
		return place.ArchiveReasonID != "" && reason == place.ArchiveReasonID
	}
	return place.ArchiveReasonID == "" && pending == place.StageID
}

// ApplyTx decides about o in tx, holding the link's row: no link, an echo
// of Tandem's own push, a stale report, an unmapped place, or a move,
// which updates the link and publishes ats.stage_changed. Every decision
// leaves an audit row.
func (a *Applier) ApplyTx(ctx context.Context, tx pgx.Tx, plan Plan, o Observed) (Decision, error) {
	conn := o.Connection
	entry := audit.Entry{OrgID: conn.OrgID, ConnectionID: conn.ID, OperationID: o.TriggerID, TriggerID: o.TriggerID, TriggerType: o.TriggerType,
		Direction: audit.DirectionInbound, Request: &audit.Exchange{Body: o.Request}}
	if o.Origin == OriginReconcile {
		entry.Direction = audit.DirectionReconcile
	}
	skip := func(action, why string) (Decision, error) {
		entry.Action, entry.Outcome, entry.Error = action, audit.OutcomeSkipped, why
		if err := audit.Record(ctx, tx, entry); err != nil {
			return Decision{}, err
		}
		return Decision{Action: action, Why: why}, nil
	}
	link, err := a.store.LockLink(ctx, tx, conn.ID, o.OpportunityID)
	if errors.Is(err, postgres.ErrNotFound) {
		return skip(ActionSkipped, "no Tandem candidate is linked to the opportunity")
	}
	if err != nil {
		return Decision{}, err
	}
	entry.CandidateID, entry.MappingVersion = link.CandidateID, link.MappingVersion
	if o.Place == link.ATS || pendingIs(link.PendingStageID, o.Place) {
		return skip(ActionEchoSuppressed, "the ATS reports where Tandem put the candidate")
	}
	if link.LastInboundAt != nil && o.At.Before(*link.LastInboundAt) {
		return skip(ActionSkipped, "stale: a newer change of the opportunity was applied")
	}
	version := link.MappingVersion
	if plan.Mapping != nil {
		version = plan.Mapping.Version
	}
	entry.MappingVersion = version
	if err := a.store.MoveLink(ctx, tx, conn.ID, o.OpportunityID, o.Place, version, o.At); err != nil {
		return Decision{}, err
	}
	to, ok := plan.target(o.Place)
	if !ok {
		return skip(ActionSkipped, "the stage mapping has no Tandem stage for "+plan.names.ats(o.Place))
	}
	rule := fmt.Sprintf("Lever '%s' → Tandem '%s'", plan.names.ats(o.Place), plan.names.tandemStage(to))
	if conn.Provider != "" && conn.Provider != "lever" {
		rule = strings.Replace(rule, "Lever", conn.Provider, 1)
	}
	if _, err := a.pub.Publish(ctx, tx, events.Event{
		Type: EventStageChanged, OrganizationID: conn.OrgID, AggregateID: link.CandidateID, Version: o.At.UnixMilli(), OccurredAt: o.At,
		Payload: &atsbridgev1.AtsStageChanged{ConnectionId: conn.ID, CandidateId: link.CandidateID, ToStageId: to, RemoteOpportunityId: o.OpportunityID,
			AtsStageId: o.Place.StageID, ArchiveReasonId: o.Place.ArchiveReasonID, MappingVersion: int32(version), Rule: rule, //nolint:gosec // a mapping version
			Origin: o.Origin, ChangeTime: timestamppb.New(o.At)},
	}); err != nil {
		return Decision{}, fmt.Errorf("inbound: publish %s: %w", EventStageChanged, err)
	}
	entry.Action, entry.Rule, entry.Outcome = ActionApplyStage, rule, audit.OutcomeSucceeded
	if err := audit.Record(ctx, tx, entry); err != nil {
		return Decision{}, err
	}
	return Decision{Applied: true, Action: ActionApplyStage}, nil
}
