// Package server is the gRPC handler of the outreach service: it translates protos
// and errors and nothing else.
package server

import (
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// Server implements outreachv1.OutreachServiceServer.
type Server struct {
	outreachv1.UnimplementedOutreachServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
