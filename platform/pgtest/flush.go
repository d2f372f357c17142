package pgtest

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// FlushPrefix deletes every key under prefix, as a Redis that lost its data
// would have, and returns how many there were. Fault tests use it.
func FlushPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) int {
	t.Helper()
	n, err := DeleteRedisPrefix(t.Context(), rdb, prefix)
	if err != nil {
		t.Fatalf("pgtest: flushing %s: %v", prefix, err)
	}
	return n
}
