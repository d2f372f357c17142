// Package mailboxclient hands flow steps to the mailbox service over its
// internal SubmitMessage RPC (flows.Mailbox).
package mailboxclient

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/grpcclient"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
)

// DefaultAddr is mailbox's port in the local stack (DESIGN §6).
const DefaultAddr = "127.0.0.1:9104"

// Config is where mailbox is.
type Config struct {
	Addr string
}

// Register implements config.Group.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "mailbox-addr", DefaultAddr, "mailbox service gRPC address (flow steps are handed to it)")
}

// Validate implements config.Group.
func (c *Config) Validate(p *config.Problems) { config.CheckHostPort(p, "mailbox-addr", c.Addr) }

// Client is flows.Mailbox over gRPC.
type Client struct {
	conn *grpc.ClientConn
	rpc  mailboxv1.MailboxServiceClient
}

// Dial connects lazily (services start in any order), authenticating as
// the outreach service.
func Dial(c Config, creds authz.ServiceCredentials) (*Client, error) {
	conn, err := grpc.NewClient(c.Addr, grpcclient.Options(grpc.WithPerRPCCredentials(creds))...)
	if err != nil {
		return nil, fmt.Errorf("mailbox client: %w", err)
	}
	return &Client{conn: conn, rpc: mailboxv1.NewMailboxServiceClient(conn)}, nil
}

// New returns a client over a connection the caller owns (tests).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: mailboxv1.NewMailboxServiceClient(conn)}
}

// Close closes the connection Dial made.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Submit implements flows.Mailbox. Mailbox's refusals (a bad request, a
// caller it does not allow) and a key used before become the flows
// sentinels; anything else is temporary, and the step job tries again
// with the same key.
func (c *Client) Submit(ctx context.Context, m flows.Message) (flows.Submitted, error) {
	req := &mailboxv1.SubmitMessageRequest{
		OrganizationId: m.OrgID, MailboxId: m.MailboxID, To: []*mailboxv1.Recipient{{Address: m.To, Name: m.ToName}},
		Subject: m.Subject, HtmlBody: m.HTMLBody, ReplyToProviderMessageId: m.ReplyTo, IdempotencyKey: m.IdempotencyKey,
	}
	if m.SendAfter != nil {
		req.SendAfter = timestamppb.New(*m.SendAfter)
	}
	resp, err := c.rpc.SubmitMessage(ctx, req)
	switch status.Code(err) {
	case codes.OK:
		return flows.Submitted{MessageID: resp.GetMessage().GetId()}, nil
	case codes.AlreadyExists:
		return flows.Submitted{}, fmt.Errorf("%w: %w", flows.ErrKeyUsed, err)
	case codes.InvalidArgument, codes.PermissionDenied:
		return flows.Submitted{}, fmt.Errorf("%w: %w", flows.ErrRefused, err)
	}
	// NotFound included: a mailbox connected a moment ago reaches mailbox
	// through identity's event, which may still be on its way.
	return flows.Submitted{}, fmt.Errorf("mailbox submit: %w", err)
}

// Cancel implements flows.Mailbox: a message that is leaving or left is
// FailedPrecondition in mailbox, flows.ErrTooLate here; one mailbox does
// not have is nothing to cancel.
func (c *Client) Cancel(ctx context.Context, orgID, messageID string) error {
	_, err := c.rpc.CancelMessage(ctx, &mailboxv1.CancelMessageRequest{OrganizationId: orgID, MessageId: messageID})
	switch status.Code(err) {
	case codes.OK, codes.NotFound:
		return nil
	case codes.FailedPrecondition:
		return fmt.Errorf("%w: %w", flows.ErrTooLate, err)
	}
	return fmt.Errorf("mailbox cancel: %w", err)
}
