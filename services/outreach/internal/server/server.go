// Package server is the gRPC handler of the outreach service: it translates protos
// and errors and nothing else.
package server

import (
	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{}

// Server implements outreachv1.OutreachServiceServer.
type Server struct {
	outreachv1.UnimplementedOutreachServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
