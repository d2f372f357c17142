package inbound

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// CursorPurpose is the Redis family of the mailboxes' sync cursors
// (mailbox:sync-cursor:<mailbox id>, ADR 13): each Inbox's delta link.
const CursorPurpose = "sync-cursor"

// Cursors keeps each mailbox's Inbox delta link in Redis. Redis may lose
// it: a missing cursor means a full round, which records nothing twice.
type Cursors struct {
	rdb  redis.UniversalClient
	keys redisx.Keys
}

// NewCursors returns the cursors under keys (Runtime.Keys(CursorPurpose)).
func NewCursors(rdb redis.UniversalClient, keys redisx.Keys) *Cursors {
	return &Cursors{rdb: rdb, keys: keys}
}

// Get returns a mailbox's delta link, and false when there is none.
func (c *Cursors) Get(ctx context.Context, mailboxID string) (string, bool, error) {
	v, err := c.rdb.Get(ctx, c.keys.Key(mailboxID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("inbound: read the sync cursor: %w", err)
	}
	return v, true, nil
}

// Set keeps a mailbox's delta link, for good.
func (c *Cursors) Set(ctx context.Context, mailboxID, link string) error {
	if err := c.rdb.Set(ctx, c.keys.Key(mailboxID), link, 0).Err(); err != nil {
		return fmt.Errorf("inbound: keep the sync cursor: %w", err)
	}
	return nil
}

// Drop forgets a mailbox's delta link (Graph no longer knows it).
func (c *Cursors) Drop(ctx context.Context, mailboxID string) error {
	if err := c.rdb.Del(ctx, c.keys.Key(mailboxID)).Err(); err != nil {
		return fmt.Errorf("inbound: drop the sync cursor: %w", err)
	}
	return nil
}
