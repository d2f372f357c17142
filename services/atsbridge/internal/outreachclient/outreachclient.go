// Package outreachclient reads from outreach over its internal RPCs:
// Tandem's stages (ListStagesForService, mappings.TandemStages) and what a
// push writes of a candidate (GetCandidateForSync, pushes.Candidates).
//
// A read rather than a copy kept from events: the mapping must cover the
// stages as they are when it is saved or checked, outreach changes them
// (renames, new stages, retirements) without publishing the set, and a
// read needs no backfill for organizations that existed before.
package outreachclient

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/grpcclient"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/pushes"
)

// DefaultAddr is outreach's port in the local stack (DESIGN §6).
const DefaultAddr = "127.0.0.1:9102"

// Config is where outreach is.
type Config struct {
	Addr string
}

// Register implements config.Group.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "outreach-addr", DefaultAddr, "outreach service gRPC address (the stage mapping reads Tandem's stages)")
}

// Validate implements config.Group.
func (c *Config) Validate(p *config.Problems) { config.CheckHostPort(p, "outreach-addr", c.Addr) }

// Client is mappings.TandemStages over gRPC.
type Client struct {
	conn *grpc.ClientConn
	rpc  outreachv1.OutreachServiceClient
}

// Dial connects lazily (services start in any order), authenticating as
// the atsbridge service.
func Dial(c Config, creds authz.ServiceCredentials) (*Client, error) {
	conn, err := grpc.NewClient(c.Addr, grpcclient.Options(grpc.WithPerRPCCredentials(creds))...)
	if err != nil {
		return nil, fmt.Errorf("outreach client: %w", err)
	}
	return &Client{conn: conn, rpc: outreachv1.NewOutreachServiceClient(conn)}, nil
}

// New returns a client over a connection the caller owns (tests).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: outreachv1.NewOutreachServiceClient(conn)}
}

// Close closes the connection Dial made.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// ActiveStages implements mappings.TandemStages. Outreach's failures are
// reported as Tandem's stages being unavailable, without its text.
func (c *Client) ActiveStages(ctx context.Context, orgID string) ([]mappings.TandemStage, error) {
	resp, err := c.rpc.ListStagesForService(ctx, &outreachv1.ListStagesForServiceRequest{OrganizationId: orgID})
	if err != nil {
		return nil, apperr.Unavailable("Tandem's stages could not be read; try again", fmt.Errorf("outreach ListStagesForService: %w", err))
	}
	out := make([]mappings.TandemStage, 0, len(resp.GetStages()))
	for _, s := range resp.GetStages() {
		if !s.GetRetired() {
			out = append(out, mappings.TandemStage{ID: s.GetId(), Name: s.GetName()})
		}
	}
	return out, nil
}

// jobSources names outreach's job sources as atsbridge's providers.
var jobSources = map[outreachv1.JobSource]string{outreachv1.JobSource_JOB_SOURCE_LEVER: "lever", outreachv1.JobSource_JOB_SOURCE_ASHBY: "ashby"}

// CandidateForSync implements pushes.Candidates. A candidate or job that
// outreach does not have (any more) is pushes.ErrGone.
func (c *Client) CandidateForSync(ctx context.Context, orgID, candidateID, jobID string) (pushes.Candidate, error) {
	resp, err := c.rpc.GetCandidateForSync(ctx, &outreachv1.GetCandidateForSyncRequest{OrganizationId: orgID, CandidateId: candidateID, JobId: jobID})
	if status.Code(err) == codes.NotFound {
		return pushes.Candidate{}, pushes.ErrGone
	}
	if err != nil {
		return pushes.Candidate{}, fmt.Errorf("outreach GetCandidateForSync: %w", err)
	}
	pc := resp.GetCandidate()
	out := pushes.Candidate{ID: pc.GetId(), Name: pc.GetName(), Location: pc.GetLocation(), Phone: pc.GetPhone(), Emails: pc.GetEmails(), StageID: pc.GetStageId()}
	switch {
	case pc.GetTitle() != "" && pc.GetCompany() != "":
		out.Headline = pc.GetTitle() + " at " + pc.GetCompany()
	case pc.GetTitle() != "":
		out.Headline = pc.GetTitle()
	default:
		out.Headline = pc.GetCompany()
	}
	for _, l := range pc.GetLinks() {
		out.Links = append(out.Links, l.GetUrl())
	}
	for _, n := range resp.GetPublicNotes() {
		out.Notes = append(out.Notes, pushes.Note{ID: n.GetId(), Body: n.GetBody(), CreatedAt: n.GetCreateTime().AsTime()})
	}
	if j := resp.GetJob(); j != nil {
		out.Job = pushes.Job{ID: j.GetId(), Source: jobSources[j.GetExternalSource()], ExternalID: j.GetExternalId()}
	}
	return out, nil
}
