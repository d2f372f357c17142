package server_test

import (
	"testing"

	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
)

func TestEveryRPCHasARule(t *testing.T) {
	if missing := server.Policy.Missing(mailboxv1.MailboxService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
}
