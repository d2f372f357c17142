package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandemhq/tandem/platform/postgres"
)

// ErrFieldKeyTaken is a custom field key the organization has already.
var ErrFieldKeyTaken = errors.New("a custom field has this key")

// FieldDefinition is a custom field of an organization's candidates.
type FieldDefinition struct {
	Key         string
	DisplayName string
	// Type is "text", "number", "date", "url" or "choice".
	Type    string
	Options []string
}

// CreateFieldDefinition adds a custom field to the organization.
func (s *Store) CreateFieldDefinition(ctx context.Context, orgID string, d FieldDefinition) (err error) {
	ctx, sp := span(ctx, "CreateFieldDefinition")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `INSERT INTO custom_field_definitions (org_id, key, display_name, type, options) VALUES ($1, $2, $3, $4, $5)`,
		orgID, d.Key, d.DisplayName, d.Type, nonNil(d.Options))
	if err = postgres.MapError(err); errors.Is(err, postgres.ErrConflict) {
		return fmt.Errorf("%w: %w", ErrFieldKeyTaken, err)
	}
	return err
}

// FieldDefinitions returns the organization's custom fields by key.
func (s *Store) FieldDefinitions(ctx context.Context, orgID string) (_ []FieldDefinition, err error) {
	ctx, sp := span(ctx, "FieldDefinitions")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT key, display_name, type, options FROM custom_field_definitions WHERE org_id = $1 ORDER BY key`, orgID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []FieldDefinition{}
	for rows.Next() {
		var d FieldDefinition
		if err := rows.Scan(&d.Key, &d.DisplayName, &d.Type, &d.Options); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, d)
	}
	return out, postgres.MapError(rows.Err())
}
