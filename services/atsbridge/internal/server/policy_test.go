package server_test

import (
	"testing"

	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/server"
)

func TestEveryRPCHasARule(t *testing.T) {
	if missing := server.Policy.Missing(atsbridgev1.AtsBridgeService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
}
