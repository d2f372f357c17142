package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/redisx"
)

// SyncCursors keep each connection's reconcile cursor in Redis (DESIGN
// §2): the ATS time up to which changes were read. A lost cursor means a
// full re-sync, which duplicates nothing.
type SyncCursors struct {
	rdb  redis.UniversalClient
	keys redisx.Keys
}

// NewSyncCursors returns the cursors under keys.
func NewSyncCursors(rdb redis.UniversalClient, keys redisx.Keys) *SyncCursors {
	return &SyncCursors{rdb: rdb, keys: keys}
}

// cursorTTL drops the cursor of a connection no longer reconciled.
const cursorTTL = 30 * 24 * time.Hour

// Get returns the connection's cursor; false when there is none.
func (c *SyncCursors) Get(ctx context.Context, connectionID string) (_ time.Time, _ bool, err error) {
	ctx, sp := span(ctx, "SyncCursors.Get")
	defer func() { end(sp, err) }()
	v, err := c.rdb.Get(ctx, c.keys.Key(connectionID)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, nil //nolint:nilerr // an unreadable cursor is a lost one: a full re-sync
	}
	return time.UnixMilli(ms), true, nil
}

// Set records the connection's cursor.
func (c *SyncCursors) Set(ctx context.Context, connectionID string, at time.Time) (err error) {
	ctx, sp := span(ctx, "SyncCursors.Set")
	defer func() { end(sp, err) }()
	return c.rdb.Set(ctx, c.keys.Key(connectionID), strconv.FormatInt(at.UnixMilli(), 10), cursorTTL).Err()
}

// ConnectedIDs lists the connections of a provider that are connected.
func (s *Store) ConnectedIDs(ctx context.Context, provider string) (_ []string, err error) {
	ctx, sp := span(ctx, "ConnectedIDs")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT id::text FROM ats_connections WHERE provider = $1 AND status = 'connected' ORDER BY id`, provider)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}
