package e2e

import (
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/pgtest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// Issue 16, item 2 (DESIGN §2), from outside: Redis loses every key of the
// stack. The mailbox connection stays connected and both identity replicas
// still serve its token, with no reconnect and no refresh at Microsoft:
// Postgres kept the sealed credentials.
func TestFaults_RedisLossCostsNoReconnect(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{IdentityReplicas: 1})
	ctl := sim(t, s)
	userAPI, conn := connectedMailbox(t, s, contosoUser)
	replicas := []identityv1.IdentityServiceClient{identityClient(t, s, "identity"), identityClient(t, s, "identity-2")}
	ctx := asService(t.Context(), s)
	req := &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetId()}

	first, err := replicas[0].GetAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	refreshCounter := "microsoft.token.refresh_token/user=" + contosoUser
	before, err := ctl.Counter(t.Context(), refreshCounter)
	if err != nil {
		t.Fatal(err)
	}

	if n := pgtest.FlushPrefix(t, pgtest.NewRedis(t), s.RedisPrefix); n == 0 {
		t.Fatal("the stack had nothing in Redis to lose")
	}

	for i, r := range replicas {
		got, err := r.GetAccessToken(ctx, req)
		if err != nil {
			t.Fatalf("replica %d after Redis lost every key: %v", i, err)
		}
		if got.GetAccessToken() != first.GetAccessToken() {
			t.Fatalf("replica %d served another token than before the loss", i)
		}
	}
	after, err := ctl.Counter(t.Context(), refreshCounter)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("%d refreshes at Microsoft to recover from a Redis loss, want none", after-before)
	}
	mb := &identityv1.GetMailboxConnectionResponse{}
	userAPI.must("GET", "/v1/mailboxConnection", nil, mb)
	if got := mb.GetConnection(); got.GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED {
		t.Fatalf("after the loss the connection is %v, want connected", got)
	}
}
