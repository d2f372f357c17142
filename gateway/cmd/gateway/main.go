// Command gateway serves Tandem's REST API in front of the gRPC services.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/tandemhq/tandem/gateway/internal/config"
	"github.com/tandemhq/tandem/gateway/internal/files"
	"github.com/tandemhq/tandem/gateway/internal/oauth"
	"github.com/tandemhq/tandem/gateway/internal/openapi"
	"github.com/tandemhq/tandem/gateway/internal/rest"
	"github.com/tandemhq/tandem/gateway/internal/webhooks"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/telemetry"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := config.Load(args, out)
	if err != nil {
		return err
	}
	level, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	log := logging.New(out, cfg.LogFormat, level, slog.String("service", "gateway"))

	shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "tandem-gateway", ServiceVersion: version, OTLPEndpoint: cfg.OTLPEndpoint, Insecure: cfg.OTLPInsecure})
	if err != nil {
		return err
	}
	doc, err := openapi.Document(version)
	if err != nil {
		return err
	}
	docV2, err := openapi.SwaggerDocument(version)
	if err != nil {
		return err
	}
	if cfg.ServiceTokens.Development() {
		log.WarnContext(ctx, "using the development service token; set TANDEM_SERVICE_TOKEN in production")
	}
	if !strings.HasPrefix(cfg.PublicURL, "https://") {
		log.WarnContext(ctx, "TANDEM_PUBLIC_URL is not https: the OAuth binding cookie is neither Secure nor __Host- (fine for localhost only)", slog.String("public_url", cfg.PublicURL))
	}
	gw, err := rest.New(ctx, rest.Options{
		Upstreams: []rest.Upstream{
			{Name: "identity", Addr: cfg.IdentityAddr, Register: identityv1.RegisterIdentityServiceHandler},
			{Name: "outreach", Addr: cfg.OutreachAddr, Register: outreachv1.RegisterOutreachServiceHandler},
			{Name: "atsbridge", Addr: cfg.AtsBridgeAddr, Register: atsbridgev1.RegisterAtsBridgeServiceHandler},
			{Name: "mailbox", Addr: cfg.MailboxAddr, Register: registerMailbox},
		},
		OpenAPI:      doc,
		Logger:       log,
		ReadyTimeout: cfg.ReadyTimeout,
		CORSOrigins:  cfg.CORSOrigins,
		MaxBodyBytes: cfg.MaxBodyBytes,
		BodyTimeout:  cfg.BodyTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,

		RequestTimeout: cfg.RequestTimeout,
	})
	if err != nil {
		return err
	}

	routes := &oauth.Routes{
		Identity: identityv1.NewIdentityServiceClient(gw.Conn("identity")),
		Internal: grpc.PerRPCCredentials(authz.ServiceCredentials{Name: "gateway", Token: cfg.ServiceTokens.Current}),
		Log:      log,
		Binding:  oauth.NewBinding(cfg.ServiceTokens.Current.Value(), cfg.PublicURL),
	}
	routes.Register(gw)
	// Files' bytes stream through routes of their own (upload, download).
	(&files.Routes{Outreach: outreachv1.NewOutreachServiceClient(gw.Conn("outreach")), Log: log}).Register(gw)
	// Graph's change and lifecycle notifications, handed to mailbox.
	(&webhooks.Graph{
		Mailbox:  mailboxv1.NewMailboxInboundServiceClient(gw.Conn("mailbox")),
		Internal: grpc.PerRPCCredentials(authz.ServiceCredentials{Name: "gateway", Token: cfg.ServiceTokens.Current}),
		Log:      log,
	}).Register(gw)
	// Lever's webhook deliveries, handed to atsbridge raw.
	(&webhooks.Lever{
		AtsBridge: atsbridgev1.NewAtsBridgeServiceClient(gw.Conn("atsbridge")),
		Internal:  grpc.PerRPCCredentials(authz.ServiceCredentials{Name: "gateway", Token: cfg.ServiceTokens.Current}),
		Log:       log,
	}).Register(gw)
	gw.HandlePlain("GET /openapi.v2.json", openapi.Handler(docV2))

	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		gw.Close()
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	srv := gw.Server()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	log.InfoContext(ctx, "serving", slog.String("addr", lis.Addr().String()))

	select {
	case <-ctx.Done():
		// Tell load balancers first (/readyz turns 503), keep serving for
		// the drain delay while they notice, then stop.
		gw.Drain()
		if cfg.DrainDelay > 0 {
			log.InfoContext(ctx, "draining", slog.Duration("for", cfg.DrainDelay))
			select {
			case <-time.After(cfg.DrainDelay):
			case err = <-serveErr:
			}
		}
	case err = <-serveErr:
	}
	// Shutdown order: stop taking requests and finish those in flight, then
	// close upstream connections, then flush telemetry.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.WarnContext(sctx, "graceful shutdown timed out", slog.Any("error", serr))
		_ = srv.Close()
	}
	gw.Close()
	if terr := shutdownTelemetry(sctx); terr != nil {
		log.WarnContext(sctx, "telemetry flush failed", slog.Any("error", terr))
	}
	log.InfoContext(sctx, "stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// registerMailbox installs both of mailbox's REST services: sending and
// inbound mail.
func registerMailbox(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	if err := mailboxv1.RegisterMailboxServiceHandler(ctx, mux, conn); err != nil {
		return err
	}
	return mailboxv1.RegisterMailboxInboundServiceHandler(ctx, mux, conn)
}
