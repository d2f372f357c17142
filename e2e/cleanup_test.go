package e2e

import (
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/pgtest"
)

// A stack leaves the shared Redis as it found it: its key prefix is empty
// once the test that started it has ended (issue 16, item 9).
func TestFaults_StackCleansItsRedisPrefix(t *testing.T) {
	var prefix string
	t.Run("stack", func(t *testing.T) {
		s := stack.Start(t, binDir, stack.Options{})
		prefix = s.RedisPrefix
		// A sign-in writes keys of several families (OAuth state, login
		// code, the revocation set's marker).
		signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
		n, err := s.Redis().Keys(t.Context(), prefix+"*").Result()
		if err != nil || len(n) == 0 {
			t.Fatalf("the running stack should have keys under %s: %v %v", prefix, n, err)
		}
	})
	rdb := pgtest.NewRedis(t)
	left, err := rdb.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("the stack left %d keys under %s behind: %v", len(left), prefix, left)
	}
}
