// Package server is the gRPC handler of the atsbridge service: it translates protos
// and errors and nothing else.
package server

import (
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// Server implements atsbridgev1.AtsBridgeServiceServer.
type Server struct {
	atsbridgev1.UnimplementedAtsBridgeServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
