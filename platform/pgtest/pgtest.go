// Package pgtest gives each integration test a fresh Postgres database and a
// private Redis key prefix, so tests run in parallel and leave nothing behind.
//
// The server is found at TANDEM_TEST_DATABASE_URL (default: the local server,
// postgres://postgres@127.0.0.1:5432/postgres). A test fails, never skips,
// when it is not reachable: CI has one, and so does every developer machine
// after `make run`.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// AdminURL is the URL of the maintenance database tests create databases from.
func AdminURL() string {
	if u := os.Getenv("TANDEM_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RandomSuffix returns a short random hex string for names.
func RandomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	return hex.EncodeToString(b[:])
}

// NewDatabase creates an empty database for the test and drops it when the
// test ends. It returns the database's URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v (is Postgres running? `make run` starts one)", admin, err)
	}
	defer conn.Close(ctx)
	name := "tandem_test_" + RandomSuffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: parse admin url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL is the Redis server tests use (TANDEM_TEST_REDIS_URL, default the
// local server).
func RedisURL() string {
	if u := os.Getenv("TANDEM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RedisPrefix returns a key prefix unique to this test.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	return "test:" + RandomSuffix() + ":"
}

// NewRedis connects to the test Redis and fails the test when it does not
// answer: a skipped integration test would pass in CI without testing
// anything. The client closes when the test ends.
func NewRedis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("pgtest: TANDEM_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("pgtest: closing Redis: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("pgtest: Redis at %s unreachable: %v (is Redis running? `make run` starts one)", opt.Addr, err)
	}
	return rdb
}

// RedisPrefixCleaned is RedisPrefix whose keys are deleted when the test
// ends, so tests leave a shared Redis as they found it.
func RedisPrefixCleaned(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	prefix := RedisPrefix(t)
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := DeleteRedisPrefix(ctx, rdb, prefix); err != nil {
			t.Errorf("pgtest: cleaning up %s: %v", prefix, err)
		}
	})
	return prefix
}

// DeleteRedisPrefix deletes every key that starts with prefix (SCAN, then
// UNLINK in batches, so a large prefix does not block Redis) and returns
// how many it deleted. An empty prefix is refused: it would empty a Redis
// other tests share.
func DeleteRedisPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("pgtest: refusing to delete every key of a shared Redis")
	}
	deleted := 0
	batch := make([]string, 0, 200)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := rdb.Unlink(ctx, batch...).Result()
		deleted += int(n)
		batch = batch[:0]
		return err
	}
	iter := rdb.Scan(ctx, 0, prefix+"*", 200).Iterator()
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, err
	}
	return deleted, flush()
}
