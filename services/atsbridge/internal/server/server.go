// Package server is the gRPC handler of the atsbridge service: it translates protos
// and errors and nothing else.
package server

import (
	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{}

// Server implements atsbridgev1.AtsBridgeServiceServer.
type Server struct {
	atsbridgev1.UnimplementedAtsBridgeServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
