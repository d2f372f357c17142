package pgtest

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// FlushPrefix deletes every key under prefix, as a Redis that lost its data
// would have, and returns how many there were. Fault tests use it.
func FlushPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) int {
	t.Helper()
	ctx := t.Context()
	n := 0
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Fatalf("pgtest: flushing %s: %v", prefix, err)
		}
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("pgtest: flushing %s: %v", prefix, err)
	}
	return n
}
