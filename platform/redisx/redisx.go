// Package redisx opens the Redis client every service uses, instrumented with
// OpenTelemetry. Spans carry the command name only, never its arguments: keys
// and values can hold tokens.
package redisx

import (
	"context"
	"errors"
	"fmt"

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
		_ = c.Close()
		return nil, fmt.Errorf("redis: tracing: %w", err)
	}
	if err := redisotel.InstrumentMetrics(c); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis: metrics: %w", err)
	}
	return c, nil
}

// Ping checks that Redis answers; health checks use it.
func Ping(ctx context.Context, c redis.UniversalClient) error { return c.Ping(ctx).Err() }

// Keys builds key names under a prefix, so one Redis can serve several
// deployments and tests can use private prefixes.
type Keys struct{ Prefix string }

// Key joins parts under the prefix: Keys{"tandem:"}.Key("token", id).
func (k Keys) Key(parts ...string) string {
	s := k.Prefix
	for i, p := range parts {
		if i > 0 {
			s += ":"
		}
		s += p
	}
	return s
}
