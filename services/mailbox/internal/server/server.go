// Package server is the gRPC handler of the mailbox service: it translates protos
// and errors and nothing else.
package server

import (
	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{}

// Server implements mailboxv1.MailboxServiceServer.
type Server struct {
	mailboxv1.UnimplementedMailboxServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
