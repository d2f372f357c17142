package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Place is where a candidate is in the ATS: a pipeline stage, or archived
// with a reason (Lever's hired is an archive reason of type hired).
// Exactly one is set.
type Place struct {
	StageID, ArchiveReasonID string
}

// ToATS is a Tandem stage's place in the ATS.
type ToATS struct {
	TandemStageID string
	ATS           Place
}

// FromATS is an ATS place's Tandem stage.
type FromATS struct {
	ATS           Place
	TandemStageID string
}

// Table is a stage mapping in both directions.
type Table struct {
	ToATS   []ToATS
	FromATS []FromATS
}

// Mapping is a saved version of a table.
type Mapping struct {
	ConnectionID string
	Version      int
	Table
	CreatedBy string
	CreatedAt time.Time
}

// Sides are what a mapping maps on the ATS's side, as the last import
// brought them in.
type Sides struct {
	Stages  []Stage
	Reasons []ArchiveReason
}

// ATSSides returns every stage and archive reason of the connection.
func (s *Store) ATSSides(ctx context.Context, connectionID string) (_ Sides, err error) {
	ctx, sp := span(ctx, "ATSSides")
	defer func() { end(sp, err) }()
	var out Sides
	rows, err := s.db.Query(ctx, `SELECT remote_id, name, position FROM ats_stages WHERE connection_id = $1 ORDER BY position`, connectionID)
	if err != nil {
		return out, postgres.MapError(err)
	}
	if out.Stages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stage, error) {
		var st Stage
		return st, r.Scan(&st.RemoteID, &st.Name, &st.Position)
	}); err != nil {
		return out, postgres.MapError(err)
	}
	rows, err = s.db.Query(ctx, `SELECT remote_id, text, type FROM ats_archive_reasons WHERE connection_id = $1 ORDER BY remote_id`, connectionID)
	if err != nil {
		return out, postgres.MapError(err)
	}
	out.Reasons, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ArchiveReason, error) {
		var a ArchiveReason
		return a, r.Scan(&a.RemoteID, &a.Text, &a.Type)
	})
	return out, postgres.MapError(err)
}

// Mapping returns a version of the connection's mapping, the newest for
// version 0; postgres.ErrNotFound when there is none.
func (s *Store) Mapping(ctx context.Context, connectionID string, version int) (_ Mapping, err error) {
	ctx, sp := span(ctx, "Mapping")
	defer func() { end(sp, err) }()
	m := Mapping{ConnectionID: connectionID}
	err = s.db.QueryRow(ctx, `SELECT version, created_by, created_at FROM stage_mappings
		WHERE connection_id = $1 AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1`, connectionID, version).
		Scan(&m.Version, &m.CreatedBy, &m.CreatedAt)
	if err != nil {
		return m, postgres.MapError(err)
	}
	rows, err := s.db.Query(ctx, `SELECT direction, tandem_stage_id, ats_stage_id, archive_reason_id FROM stage_mapping_rows
		WHERE connection_id = $1 AND version = $2 ORDER BY direction DESC, position`, connectionID, m.Version)
	if err != nil {
		return m, postgres.MapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dir, tandem string
		var p Place
		if err := rows.Scan(&dir, &tandem, &p.StageID, &p.ArchiveReasonID); err != nil {
			return m, postgres.MapError(err)
		}
		if dir == dirToATS {
			m.ToATS = append(m.ToATS, ToATS{TandemStageID: tandem, ATS: p})
		} else {
			m.FromATS = append(m.FromATS, FromATS{ATS: p, TandemStageID: tandem})
		}
	}
	return m, postgres.MapError(rows.Err())
}

const (
	dirToATS   = "to_ats"
	dirFromATS = "from_ats"
)

// ErrVersionMoved is a save over a version that is no longer the newest.
var ErrVersionMoved = errors.New("store: the mapping has a newer version")

// SaveMapping stores t as version base+1 of the connection's mapping, by
// who, when base is still the newest version (0: none yet); otherwise
// ErrVersionMoved and nothing is stored.
func (s *Store) SaveMapping(ctx context.Context, connectionID, orgID string, base int, t Table, by string) (_ Mapping, err error) {
	ctx, sp := span(ctx, "SaveMapping")
	defer func() { end(sp, err) }()
	m := Mapping{ConnectionID: connectionID, Version: base + 1, Table: t, CreatedBy: by}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The connection's row serialises saves.
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT max(version) FROM stage_mappings WHERE connection_id = c.id), 0)
			FROM ats_connections c WHERE c.id = $1 AND c.org_id = $2 FOR UPDATE`, connectionID, orgID).Scan(&current); err != nil {
			return err
		}
		if current != base {
			return fmt.Errorf("%w: version %d is the newest, the table was edited from %d", ErrVersionMoved, current, base)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO stage_mappings (connection_id, version, org_id, created_by) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			connectionID, m.Version, orgID, by).Scan(&m.CreatedAt); err != nil {
			return err
		}
		cols := []string{"connection_id", "version", "direction", "position", "tandem_stage_id", "ats_stage_id", "archive_reason_id"}
		if err := copyRows(ctx, tx, "stage_mapping_rows", cols, len(t.ToATS), func(i int) []any {
			r := t.ToATS[i]
			return []any{connectionID, m.Version, dirToATS, i, r.TandemStageID, r.ATS.StageID, r.ATS.ArchiveReasonID}
		}); err != nil {
			return err
		}
		return copyRows(ctx, tx, "stage_mapping_rows", cols, len(t.FromATS), func(i int) []any {
			r := t.FromATS[i]
			return []any{connectionID, m.Version, dirFromATS, i, r.TandemStageID, r.ATS.StageID, r.ATS.ArchiveReasonID}
		})
	})
	if errors.Is(err, ErrVersionMoved) {
		return Mapping{}, err
	}
	return m, postgres.MapError(err)
}

// Link is a Tandem candidate linked to its ATS candidate.
type Link struct {
	CandidateID, RemoteCandidateID, RemoteOpportunityID string
	ATS                                                 Place
	MappingVersion                                      int
}

// UpsertLink records a link (the pushes write them; the dry run's tests
// seed them).
func (s *Store) UpsertLink(ctx context.Context, connectionID, orgID string, l Link) (err error) {
	ctx, sp := span(ctx, "UpsertLink")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `INSERT INTO candidate_links (connection_id, org_id, candidate_id, remote_candidate_id, remote_opportunity_id,
		ats_stage_id, archive_reason_id, mapping_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connection_id, remote_opportunity_id) DO UPDATE SET candidate_id = EXCLUDED.candidate_id,
		remote_candidate_id = EXCLUDED.remote_candidate_id, ats_stage_id = EXCLUDED.ats_stage_id,
		archive_reason_id = EXCLUDED.archive_reason_id, mapping_version = EXCLUDED.mapping_version, updated_at = now()`,
		connectionID, orgID, l.CandidateID, l.RemoteCandidateID, l.RemoteOpportunityID, l.ATS.StageID, l.ATS.ArchiveReasonID, l.MappingVersion)
	return postgres.MapError(err)
}

// LinkGroup counts the linked candidates at one ATS place synced with
// one mapping version.
type LinkGroup struct {
	ATS            Place
	MappingVersion int
	Candidates     int64
}

// LinkGroups counts the connection's linked candidates by ATS place and
// mapping version, so a dry run reads a handful of rows however many
// candidates are linked.
func (s *Store) LinkGroups(ctx context.Context, connectionID string) (_ []LinkGroup, err error) {
	ctx, sp := span(ctx, "LinkGroups")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT ats_stage_id, archive_reason_id, mapping_version, count(*) FROM candidate_links
		WHERE connection_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, connectionID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LinkGroup, error) {
		var g LinkGroup
		return g, r.Scan(&g.ATS.StageID, &g.ATS.ArchiveReasonID, &g.MappingVersion, &g.Candidates)
	})
	return out, postgres.MapError(err)
}

// Posting returns one of the organization's ATS postings.
func (s *Store) Posting(ctx context.Context, connectionID, remoteID string) (_ Posting, err error) {
	ctx, sp := span(ctx, "Posting")
	defer func() { end(sp, err) }()
	var p Posting
	err = s.db.QueryRow(ctx, `SELECT remote_id, title, state, team, department, location, commitment, remote_updated_at
		FROM ats_postings WHERE connection_id = $1 AND remote_id = $2`, connectionID, remoteID).
		Scan(&p.RemoteID, &p.Title, &p.State, &p.Team, &p.Department, &p.Location, &p.Commitment, &p.RemoteUpdatedAt)
	return p, postgres.MapError(err)
}
