package server_test

import (
	"testing"

	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/server"
)

func TestEveryRPCHasARule(t *testing.T) {
	if missing := server.Policy.Missing(outreachv1.OutreachService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
}
