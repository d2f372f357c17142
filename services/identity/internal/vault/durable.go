package vault

import (
	"context"
	"errors"
)

// Kept is what the system of record holds for a connection.
type Kept struct {
	OrgID string
	// Sealed is the credentials as the vault sealed them; empty once the
	// provider refused the grant.
	Sealed string
	// Refused is why the provider refused the grant, if it did.
	Refused string
	// Version grows with every change; compare-and-swap goes by it.
	Version int64
}

// DurableStore keeps each connection's sealed credentials in the system of
// record (identity's Postgres), so that Redis, the hot copy, may lose them
// (DESIGN §2). The vault writes here first on every change, then to Redis.
//
// Versions start at 1 with the first Put and grow by one with every Put,
// Swap and Refuse, so a writer that read version n can tell whether anyone
// wrote since.
type DurableStore interface {
	// Get returns what is kept for the connection, of whatever
	// organization; ErrNotKept when nothing is.
	Get(ctx context.Context, connID string) (Kept, error)
	// Put keeps sealed for the connection, replacing whatever was kept
	// (a reconnect clears a refusal), and returns the new version.
	// ErrNotKept when the connection does not exist in orgID.
	Put(ctx context.Context, orgID, connID, sealed string) (int64, error)
	// Swap replaces the sealed credentials only if the kept version is
	// still from (0: nothing kept yet, as for credentials stored before
	// this store existed), and returns the new version; ErrVersionChanged
	// otherwise.
	Swap(ctx context.Context, orgID, connID string, from int64, sealed string) (int64, error)
	// Refuse drops the sealed credentials and records reason, if the kept
	// version is still from; ErrVersionChanged otherwise.
	Refuse(ctx context.Context, orgID, connID string, from int64, reason string) error
	// Delete forgets the connection's credentials; nothing kept is no
	// error.
	Delete(ctx context.Context, connID string) error
}

// Errors of a DurableStore.
var (
	ErrNotKept        = errors.New("vault: no credentials kept for the connection")
	ErrVersionChanged = errors.New("vault: kept credentials changed meanwhile")
)
