package server_test

import (
	"testing"

	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/server"
)

func TestEveryRPCHasARule(t *testing.T) {
	if missing := server.Policy.Missing(atsbridgev1.AtsBridgeService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
}

// The ATS's people are for admins; what a flow links to is for everyone
// (DESIGN §4, ID-6).
func TestRoles(t *testing.T) {
	for rpc, want := range map[string]string{
		"GetAtsConnection": authz.AnyMember().String(),
		"ListAtsStages":    authz.AnyMember().String(),
		"ListAtsPostings":  authz.AnyMember().String(),
		"ListAtsUsers":     authz.AtLeast(authz.RoleAdmin).String(),
		// Only admins change the mapping (LV-2: a recruiter cannot save).
		"GetStageMapping":     authz.AnyMember().String(),
		"ProposeStageMapping": "roles(super_admin,admin)",
		"SaveStageMapping":    "roles(super_admin,admin)",
		"DryRunStageMapping":  "roles(super_admin,admin)",
		"CheckFlowLink":       "internal",
		// What the sync did is for every member (SYNC-1).
		"ListSyncAudit":          authz.AnyMember().String(),
		"ListCandidateSyncAudit": "internal",
		"ReceiveLeverWebhook":    "internal",
		"ResyncAtsConnection":    "roles(super_admin,admin)",
	} {
		if got := server.Policy["/tandem.atsbridge.v1.AtsBridgeService/"+rpc].String(); got != want {
			t.Errorf("%s: %s, want %s", rpc, got, want)
		}
	}
}
