// Package server is the gRPC handler of the atsbridge service: it translates protos
// and errors and nothing else.
package server

import (
	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{
	// Everyone sees whether the ATS is connected, and the stages and
	// postings a flow is linked to; the ATS's people are for the admins who
	// map recruiters to them (DESIGN §4).
	svc + "GetAtsConnection": authz.AnyMember(),
	svc + "ListAtsStages":    authz.AnyMember(),
	svc + "ListAtsPostings":  authz.AnyMember(),
	svc + "ListAtsUsers":     authz.AtLeast(authz.RoleAdmin),
}

const svc = "/tandem.atsbridge.v1.AtsBridgeService/"

// Server implements atsbridgev1.AtsBridgeServiceServer.
type Server struct {
	atsbridgev1.UnimplementedAtsBridgeServiceServer
}

// New returns the handler.
func New() *Server { return &Server{} }
