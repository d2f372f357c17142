// Package redisx opens the Redis client every service uses, instrumented with
// OpenTelemetry. Spans carry the command name only, never its arguments: keys
// and values can hold tokens.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// Open parses url (redis://[:password@]host:port/db) and returns an
// instrumented client. It does not wait for Redis: health checks tell when it
// answers, and commands fail until then.
func Open(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redis: cannot parse Redis URL")
	}
	c := redis.NewClient(opts)
	if err := redisotel.InstrumentTracing(c, redisotel.WithDBStatement(false)); err != nil {
		return nil, errors.Join(fmt.Errorf("redis: tracing: %w", err), c.Close())
	}
	if err := redisotel.InstrumentMetrics(c); err != nil {
		return nil, errors.Join(fmt.Errorf("redis: metrics: %w", err), c.Close())
	}
	return c, nil
}

// Ping checks that Redis answers; health checks use it.
func Ping(ctx context.Context, c redis.UniversalClient) error { return c.Ping(ctx).Err() }

// Every Redis key Tandem writes is named by the scheme of ADR 13:
//
//	<prefix><owner>:<purpose>:<id>
//
// prefix is the deployment's -redis-prefix ("tandem:"; tests use a private
// one). owner is the service whose data it is ("identity", "mailbox"), or
// "shared" for a key that several services read or write (identity writes
// revoked sessions, every service's authenticator reads them): a shared key
// is a contract between services, named once in platform/, and changing it
// needs every reader and writer to move together. purpose says what the
// key family holds ("vault-credentials", "ratelimit-msidentity"); id is the
// member of the family (a connection id, a hash).
//
// Owner and purpose are lower-case words joined by '-': code constants, so
// a bad one panics at once in any test. ids are opaque and may contain ':'.

// Shared is the owner of keys that more than one service uses.
const Shared = "shared"

var name = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Keys is one family of keys: one owner, one purpose.
type Keys struct{ base string }

// ServiceKeys is the family purpose of service under prefix.
func ServiceKeys(prefix, service, purpose string) Keys {
	if service == Shared {
		panic("redisx: use SharedKeys for keys several services use")
	}
	return newKeys(prefix, service, purpose)
}

// SharedKeys is the family purpose that several services use.
func SharedKeys(prefix, purpose string) Keys { return newKeys(prefix, Shared, purpose) }

func newKeys(prefix, owner, purpose string) Keys {
	if !name.MatchString(owner) || !name.MatchString(purpose) {
		panic(fmt.Sprintf("redisx: bad key owner or purpose %q, %q: lower-case words joined by '-'", owner, purpose))
	}
	return Keys{base: prefix + owner + ":" + purpose + ":"}
}

// Legacy is a family named before this scheme whose data Redis keeps for
// good, so renaming it would lose that data: the vault's credentials, under
// "vault:cred". It keeps its old name, <prefix><name>:<id>, until a
// migration moves it; a new family never uses this.
func Legacy(prefix, name string) Keys {
	if name == "" {
		panic("redisx: empty legacy family")
	}
	return Keys{base: prefix + name + ":"}
}

// Key names the member id of the family.
func (k Keys) Key(id string) string {
	if k.base == "" {
		// The zero Keys would write keys outside every family.
		panic("redisx: zero Keys; build them with ServiceKeys or SharedKeys")
	}
	return k.base + id
}

// Pattern matches every key of the family, for SCAN (tests, operations).
func (k Keys) Pattern() string { return k.base + "*" }

// String is the family's common start, for logs.
func (k Keys) String() string { return k.base }
