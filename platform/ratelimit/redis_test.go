package ratelimit

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/redisx"
)

func newRedis(t testing.TB) *redis.Client { return pgtest.NewRedis(t) }

func testPrefix(t testing.TB, rdb *redis.Client) redisx.Keys {
	return redisx.ServiceKeys(pgtest.RedisPrefixCleaned(t, rdb), "test", "ratelimit")
}

// anyKeys is for constructors that fail before touching Redis.
var anyKeys = redisx.ServiceKeys("p:", "test", "ratelimit")
