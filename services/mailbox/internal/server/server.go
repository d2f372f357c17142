// Package server is the gRPC handler of the mailbox service: it translates protos
// and errors and nothing else.
package server

import (
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// Server implements mailboxv1.MailboxServiceServer.
type Server struct {
	mailboxv1.UnimplementedMailboxServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
