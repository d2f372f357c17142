package authz

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/pgtest"
)

func newRedis(t testing.TB) *redis.Client { return pgtest.NewRedis(t) }

func testPrefix(t testing.TB, rdb *redis.Client) string { return pgtest.RedisPrefixCleaned(t, rdb) }
