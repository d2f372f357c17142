package stages

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// PublishMove publishes a move made in tx by another domain's rule (a
// flow's first send, a reply) as every move is: `candidate.stage_changed`
// in the same transaction. It is a store.Publish.
func (s *Stages) PublishMove(ctx context.Context, tx pgx.Tx, m store.StageMove) error {
	return s.publish(ctx, tx, m)
}
