package store

import (
	"context"

	"github.com/tandemhq/tandem/platform/postgres"
)

// RecordSubmitted notes that step of the enrollment is with mailbox as
// messageID, for the address to, unless the enrollment was scheduled
// again since (its schedule number is no longer seq) or that step or a
// later one is with mailbox already; it reports whether it wrote. One
// statement, which locks the row as it checks it: the step path's last
// write needs no transaction of its own.
func (s *Store) RecordSubmitted(ctx context.Context, orgID, id string, seq, step int, messageID, to string) (_ bool, err error) {
	ctx, sp := span(ctx, "RecordSubmitted")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return false, postgres.ErrNotFound
	}
	tag, err := s.db.Exec(ctx, `UPDATE enrollments SET submitted_step = $4, submitted_message_id = $5, next_send_at = NULL, to_address = $6,
		updated_at = now() WHERE org_id = $1 AND id = $2 AND schedule_seq = $3 AND submitted_step < $4`, orgID, id, seq, step, messageID, to)
	if err != nil {
		return false, postgres.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}
