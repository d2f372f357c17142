// Package mappings keeps each organization's stage mapping with its ATS,
// both ways (LV-2): the defaults proposed from both sides' stages, the
// checks a table must pass before it is saved (complete, every stage
// still there, no bounce), the versions (SYNC-2: a save is a new version,
// older ones stay for the changes synced with them), the dry run over the
// linked candidates, and whether a flow may be linked to an ATS job.
package mappings

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Store is what mappings needs of the store.
type Store interface {
	OrgConnection(ctx context.Context, orgID string) (store.Connection, error)
	ATSSides(ctx context.Context, connectionID string) (store.Sides, error)
	Mapping(ctx context.Context, connectionID string, version int) (store.Mapping, error)
	SaveMapping(ctx context.Context, connectionID, orgID string, base int, t store.Table, by string) (store.Mapping, error)
	LinkGroups(ctx context.Context, connectionID string) ([]store.LinkGroup, error)
	Posting(ctx context.Context, connectionID, remoteID string) (store.Posting, error)
}

// TandemStages reads the organization's active stages from outreach.
type TandemStages interface {
	ActiveStages(ctx context.Context, orgID string) ([]TandemStage, error)
}

// Mappings runs the stage mappings.
type Mappings struct {
	store  Store
	tandem TandemStages
}

// New returns the mappings over st, reading Tandem's stages from tandem.
func New(st Store, tandem TandemStages) *Mappings { return &Mappings{store: st, tandem: tandem} }

// Reasons a flow cannot be linked to an ATS job, and a mapping cannot be
// made.
const (
	ReasonNotConnected         = "not_connected"
	ReasonNotImported          = "ats_not_imported"
	ReasonPostingNotFound      = "posting_not_found"
	ReasonPostingNotPublished  = "posting_not_published"
	ReasonStageMappingRequired = "stage_mapping_required"
	ReasonMappingInvalid       = "stage_mapping_invalid"
)

// Invalid is a table refused with its problems.
type Invalid struct{ Problems []Problem }

func (e *Invalid) Error() string { return "mappings: " + Describe(e.Problems) }

// PublicError is the refusal a client reads: the first problem's row and
// every problem's reason.
func (e *Invalid) PublicError() *apperr.Error {
	ae := apperr.InvalidArgument("mapping."+e.Problems[0].Field, Describe(e.Problems))
	ae.Reason = e.Problems[0].Reason
	return ae
}

// connection returns the organization's imported connection.
func (m *Mappings) connection(ctx context.Context, orgID string) (store.Connection, error) {
	conn, err := m.store.OrgConnection(ctx, orgID)
	if errors.Is(err, postgres.ErrNotFound) {
		return conn, apperr.FailedPrecondition(ReasonNotConnected, "the organization has no ATS connection")
	}
	if err != nil {
		return conn, err
	}
	if conn.LastSyncAt == nil {
		return conn, apperr.FailedPrecondition(ReasonNotImported, "the ATS's stages have not been imported yet")
	}
	return conn, nil
}

func (m *Mappings) sides(ctx context.Context, orgID, connectionID string) (Sides, error) {
	tandem, err := m.tandem.ActiveStages(ctx, orgID)
	if err != nil {
		return Sides{}, err
	}
	ats, err := m.store.ATSSides(ctx, connectionID)
	if err != nil {
		return Sides{}, err
	}
	return Sides{Tandem: tandem, Sides: ats}, nil
}

// Get returns a version of the organization's mapping, the current one
// for version 0.
func (m *Mappings) Get(ctx context.Context, orgID string, version int) (store.Mapping, error) {
	if version < 0 {
		return store.Mapping{}, apperr.InvalidArgument("version", "must not be negative")
	}
	conn, err := m.store.OrgConnection(ctx, orgID)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Mapping{}, apperr.NotFound("stage mapping")
	}
	if err != nil {
		return store.Mapping{}, err
	}
	got, err := m.store.Mapping(ctx, conn.ID, version)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Mapping{}, apperr.NotFound("stage mapping")
	}
	return got, err
}

// Propose returns the default table with what it still lacks.
func (m *Mappings) Propose(ctx context.Context, orgID string) (store.Table, []Problem, error) {
	conn, err := m.connection(ctx, orgID)
	if err != nil {
		return store.Table{}, nil, err
	}
	s, err := m.sides(ctx, orgID, conn.ID)
	if err != nil {
		return store.Table{}, nil, err
	}
	t := Propose(s)
	return t, Validate(t, s), nil
}

// Save stores t as the next version after base, by the user who, when t
// is valid. A retry of a save that landed gets that version back; a save
// over a newer version is refused.
func (m *Mappings) Save(ctx context.Context, orgID, by string, base int, t store.Table) (store.Mapping, error) {
	if base < 0 {
		return store.Mapping{}, apperr.InvalidArgument("base_version", "must not be negative")
	}
	conn, err := m.connection(ctx, orgID)
	if err != nil {
		return store.Mapping{}, err
	}
	s, err := m.sides(ctx, orgID, conn.ID)
	if err != nil {
		return store.Mapping{}, err
	}
	if ps := Validate(t, s); len(ps) > 0 {
		return store.Mapping{}, &Invalid{Problems: ps}
	}
	saved, err := m.store.SaveMapping(ctx, conn.ID, orgID, base, t, by)
	if errors.Is(err, store.ErrVersionMoved) {
		if landed, gerr := m.store.Mapping(ctx, conn.ID, base+1); gerr == nil && Equal(landed.Table, t) {
			return landed, nil
		}
		return store.Mapping{}, apperr.FailedPrecondition("stage_mapping_changed",
			fmt.Sprintf("the stage mapping was saved again since version %d: reload it and edit the newest version", base))
	}
	return saved, err
}

// DryRun returns what t would do to the linked candidates, without saving.
func (m *Mappings) DryRun(ctx context.Context, orgID string, t store.Table) (DryRun, error) {
	conn, err := m.connection(ctx, orgID)
	if err != nil {
		return DryRun{}, err
	}
	s, err := m.sides(ctx, orgID, conn.ID)
	if err != nil {
		return DryRun{}, err
	}
	groups, err := m.store.LinkGroups(ctx, conn.ID)
	if err != nil {
		return DryRun{}, err
	}
	versions := map[int]store.Table{}
	for _, g := range groups {
		if _, seen := versions[g.MappingVersion]; seen || g.MappingVersion == 0 {
			continue
		}
		v, err := m.store.Mapping(ctx, conn.ID, g.MappingVersion)
		if err != nil && !errors.Is(err, postgres.ErrNotFound) {
			return DryRun{}, err
		}
		versions[g.MappingVersion] = v.Table
	}
	return Simulate(t, s, groups, versions), nil
}

// Refusal is why a flow cannot be linked to an ATS job.
type Refusal struct {
	Reason, Description string
}

// CheckFlowLink says whether a flow may be linked to the organization's
// ATS job postingID: the ATS is connected, the posting is published, and
// the current mapping is still complete and valid over both sides' stages
// as they are now. The zero Refusal means it may.
func (m *Mappings) CheckFlowLink(ctx context.Context, orgID, postingID string) (Refusal, error) {
	if postingID == "" {
		return Refusal{}, apperr.InvalidArgument("external_job_id", "is required")
	}
	conn, err := m.store.OrgConnection(ctx, orgID)
	if errors.Is(err, postgres.ErrNotFound) || (err == nil && conn.Status == store.StatusDisconnected) {
		return Refusal{ReasonNotConnected, "the organization's ATS is not connected"}, nil
	}
	if err != nil {
		return Refusal{}, err
	}
	p, err := m.store.Posting(ctx, conn.ID, postingID)
	if errors.Is(err, postgres.ErrNotFound) {
		return Refusal{ReasonPostingNotFound, "the ATS has no such job posting"}, nil
	}
	if err != nil {
		return Refusal{}, err
	}
	if !p.Published() {
		return Refusal{ReasonPostingNotPublished, fmt.Sprintf("the job posting is %s; only published postings can be linked", p.State)}, nil
	}
	cur, err := m.store.Mapping(ctx, conn.ID, 0)
	if errors.Is(err, postgres.ErrNotFound) {
		return Refusal{ReasonStageMappingRequired, "an admin must save the stage mapping with the ATS before flows are linked to its jobs"}, nil
	}
	if err != nil {
		return Refusal{}, err
	}
	s, err := m.sides(ctx, orgID, conn.ID)
	if err != nil {
		return Refusal{}, err
	}
	if ps := Validate(cur.Table, s); len(ps) > 0 {
		return Refusal{ReasonStageMappingRequired, "the stage mapping no longer fits the stages: " + Describe(ps)}, nil
	}
	return Refusal{}, nil
}
