package atsjobs

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/grpcclient"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// DefaultAddr is atsbridge's port in the local stack (DESIGN §6).
const DefaultAddr = "127.0.0.1:9103"

// Config is where atsbridge is.
type Config struct {
	Addr string
}

// Register implements config.Group.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "atsbridge-addr", DefaultAddr, "atsbridge service gRPC address (linking a flow to an ATS job is checked with it; candidates' timelines show its sync decisions)")
}

// Validate implements config.Group.
func (c *Config) Validate(p *config.Problems) { config.CheckHostPort(p, "atsbridge-addr", c.Addr) }

// Client is Checker over atsbridge's internal CheckFlowLink RPC, and
// timeline.SyncAudit over its ListCandidateSyncAudit.
type Client struct {
	conn *grpc.ClientConn
	rpc  atsbridgev1.AtsBridgeServiceClient
}

// Dial connects lazily (services start in any order), authenticating as
// the outreach service.
func Dial(c Config, creds authz.ServiceCredentials) (*Client, error) {
	conn, err := grpc.NewClient(c.Addr, grpcclient.Options(grpc.WithPerRPCCredentials(creds))...)
	if err != nil {
		return nil, fmt.Errorf("atsbridge client: %w", err)
	}
	return &Client{conn: conn, rpc: atsbridgev1.NewAtsBridgeServiceClient(conn)}, nil
}

// New returns a client over a connection the caller owns (tests).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: atsbridgev1.NewAtsBridgeServiceClient(conn)}
}

// Close closes the connection Dial made.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// CheckFlowLink implements Checker. atsbridge's failures are reported as
// the check being unavailable, without its text.
func (c *Client) CheckFlowLink(ctx context.Context, orgID, externalJobID string) (string, string, error) {
	resp, err := c.rpc.CheckFlowLink(ctx, &atsbridgev1.CheckFlowLinkRequest{OrganizationId: orgID, ExternalJobId: externalJobID})
	if err != nil {
		return "", "", apperr.Unavailable("the ATS link could not be checked; try again", fmt.Errorf("atsbridge CheckFlowLink: %w", err))
	}
	if resp.GetOk() {
		return "", "", nil
	}
	return resp.GetReason(), resp.GetDescription(), nil
}

// ListCandidateSyncAudit implements timeline.SyncAudit.
func (c *Client) ListCandidateSyncAudit(ctx context.Context, in *atsbridgev1.ListCandidateSyncAuditRequest,
	opts ...grpc.CallOption,
) (*atsbridgev1.ListCandidateSyncAuditResponse, error) {
	return c.rpc.ListCandidateSyncAudit(ctx, in, opts...)
}
