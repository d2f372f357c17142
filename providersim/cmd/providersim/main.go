// Command providersim runs the provider simulators for `make run` and the
// end-to-end tests: the Microsoft identity platform (default 127.0.0.1:9201),
// Microsoft Graph (default 127.0.0.1:9202) and Ashby (default 127.0.0.1:9203),
// each with the control API under /_sim/. It prints its base URLs, the demo
// users and the demo Ashby key, and stops on SIGINT or SIGTERM.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "providersim:", err)
		os.Exit(1)
	}
}

// config is the binary's configuration: flags, with TANDEM_SIM_* environment
// variables as fallbacks.
type config struct {
	MicrosoftAddr string
	GraphAddr     string
	MicrosoftURL  string
	GraphURL      string
	AshbyAddr     string
	AshbyURL      string
	// Lever's Data API and OAuth server.
	LeverAddr, LeverOAuthAddr string
	LeverURL, LeverOAuthURL   string
	Seed                      int64
	ClientID                  string
	ClientSecret              string
	RedirectURIs              []string // in addition to the defaults
	NoDemoData                bool
	// AllowHTTPLoopback accepts http:// notification URLs on loopback hosts.
	AllowHTTPLoopback bool
	LogLevel          string
}

// String prints the configuration with the secret redacted.
func (c config) String() string {
	return fmt.Sprintf("microsoft=%s graph=%s ashby=%s lever=%s lever_oauth=%s seed=%d client_id=%s client_secret=[redacted] redirect_uris=%v demo=%t allow_http_loopback=%t",
		c.MicrosoftAddr, c.GraphAddr, c.AshbyAddr, c.LeverAddr, c.LeverOAuthAddr, c.Seed, c.ClientID, c.redirectURIs(), !c.NoDemoData, c.AllowHTTPLoopback)
}

func (c config) redirectURIs() []string {
	out := append([]string(nil), providersim.DefaultRedirectURIs...)
	for _, u := range c.RedirectURIs {
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("providersim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var seed string
	var redirects listFlag
	var noDemo string
	allowHTTPDefault, err := strconv.ParseBool(env("TANDEM_SIM_ALLOW_HTTP_LOOPBACK", "false"))
	if err != nil {
		return config{}, fmt.Errorf("TANDEM_SIM_ALLOW_HTTP_LOOPBACK %q is not a boolean", getenv("TANDEM_SIM_ALLOW_HTTP_LOOPBACK"))
	}
	fs.StringVar(&c.MicrosoftAddr, "microsoft-addr", env("TANDEM_SIM_MICROSOFT_ADDR", "127.0.0.1:9201"), "listen address of the Microsoft identity platform (TANDEM_SIM_MICROSOFT_ADDR)")
	fs.StringVar(&c.GraphAddr, "graph-addr", env("TANDEM_SIM_GRAPH_ADDR", "127.0.0.1:9202"), "listen address of Microsoft Graph (TANDEM_SIM_GRAPH_ADDR)")
	fs.StringVar(&c.MicrosoftURL, "microsoft-url", env("TANDEM_SIM_MICROSOFT_URL", ""), "public base URL of the identity platform, if not http://<microsoft-addr> (TANDEM_SIM_MICROSOFT_URL)")
	fs.StringVar(&c.GraphURL, "graph-url", env("TANDEM_SIM_GRAPH_URL", ""), "public base URL of Graph, if not http://<graph-addr> (TANDEM_SIM_GRAPH_URL)")
	fs.StringVar(&c.AshbyAddr, "ashby-addr", env("TANDEM_SIM_ASHBY_ADDR", "127.0.0.1:9203"), "listen address of the Ashby API (TANDEM_SIM_ASHBY_ADDR)")
	fs.StringVar(&c.AshbyURL, "ashby-url", env("TANDEM_SIM_ASHBY_URL", ""), "public base URL of the Ashby API, if not http://<ashby-addr> (TANDEM_SIM_ASHBY_URL)")
	fs.StringVar(&c.LeverAddr, "lever-addr", env("TANDEM_SIM_LEVER_ADDR", "127.0.0.1:9204"), "listen address of Lever's Data API (TANDEM_SIM_LEVER_ADDR)")
	fs.StringVar(&c.LeverOAuthAddr, "lever-oauth-addr", env("TANDEM_SIM_LEVER_OAUTH_ADDR", "127.0.0.1:9205"), "listen address of Lever's OAuth server (TANDEM_SIM_LEVER_OAUTH_ADDR)")
	fs.StringVar(&c.LeverURL, "lever-url", env("TANDEM_SIM_LEVER_URL", ""), "public base URL of Lever's Data API, if not http://<lever-addr> (TANDEM_SIM_LEVER_URL)")
	fs.StringVar(&c.LeverOAuthURL, "lever-oauth-url", env("TANDEM_SIM_LEVER_OAUTH_URL", ""), "public base URL of Lever's OAuth server, if not http://<lever-oauth-addr> (TANDEM_SIM_LEVER_OAUTH_URL)")
	fs.StringVar(&seed, "seed", env("TANDEM_SIM_SEED", "1"), "seed of generated ids and tokens (TANDEM_SIM_SEED)")
	fs.StringVar(&c.ClientID, "client-id", env("TANDEM_SIM_CLIENT_ID", providersim.DefaultClientID), "client id of the Tandem app registration (TANDEM_SIM_CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "client-secret", env("TANDEM_SIM_CLIENT_SECRET", providersim.DefaultClientSecret), "client secret of the Tandem app registration (TANDEM_SIM_CLIENT_SECRET)")
	fs.Var(&redirects, "redirect-uri", "extra redirect URI of the Tandem app, repeatable (TANDEM_SIM_REDIRECT_URIS, comma-separated)")
	fs.StringVar(&noDemo, "no-demo-data", env("TANDEM_SIM_NO_DEMO_DATA", "false"), "leave out the demo tenants and users (TANDEM_SIM_NO_DEMO_DATA)")
	fs.BoolVar(&c.AllowHTTPLoopback, "allow-http-loopback", allowHTTPDefault, "accept http:// subscription notification URLs on loopback hosts; Graph takes only https (TANDEM_SIM_ALLOW_HTTP_LOOPBACK)")
	fs.StringVar(&c.LogLevel, "log-level", env("TANDEM_SIM_LOG_LEVEL", "info"), "debug, info, warn or error (TANDEM_SIM_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Seed, err = strconv.ParseInt(seed, 10, 64); err != nil {
		return config{}, fmt.Errorf("seed %q is not an integer", seed)
	}
	if c.NoDemoData, err = strconv.ParseBool(noDemo); err != nil {
		return config{}, fmt.Errorf("no-demo-data %q is not a boolean", noDemo)
	}
	c.RedirectURIs = redirects
	if len(redirects) == 0 {
		for _, u := range strings.Split(getenv("TANDEM_SIM_REDIRECT_URIS"), ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.RedirectURIs = append(c.RedirectURIs, u)
			}
		}
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.MicrosoftAddr == "" || c.GraphAddr == "" || c.AshbyAddr == "" || c.LeverAddr == "" || c.LeverOAuthAddr == "" {
		errs = append(errs, errors.New("listen addresses must not be empty"))
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		errs = append(errs, errors.New("client id and client secret must not be empty"))
	}
	for _, raw := range append(c.RedirectURIs, c.MicrosoftURL, c.GraphURL, c.AshbyURL, c.LeverURL, c.LeverOAuthURL) {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%q is not an absolute URL", raw))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	app := providersim.DefaultApp()
	app.ClientID, app.ClientSecret, app.RedirectURIs = c.ClientID, c.ClientSecret, c.redirectURIs()
	sim, err := providersim.Start(ctx, providersim.Options{
		Seed:           c.Seed,
		MicrosoftAddr:  c.MicrosoftAddr,
		GraphAddr:      c.GraphAddr,
		MicrosoftURL:   c.MicrosoftURL,
		GraphURL:       c.GraphURL,
		AshbyAddr:      c.AshbyAddr,
		AshbyURL:       c.AshbyURL,
		LeverAddr:      c.LeverAddr,
		LeverOAuthAddr: c.LeverOAuthAddr,
		LeverURL:       c.LeverURL,
		LeverOAuthURL:  c.LeverOAuthURL,
		Apps:           []simclient.App{app},
		NoDemoData:     c.NoDemoData,
		Logger:         log,

		AllowHTTPLoopbackNotifications: c.AllowHTTPLoopback,
	})
	if err != nil {
		return err
	}
	log.Info("config", "config", c.String())
	// The Ashby part is gathered first and printed last: once the banner
	// is out, nothing more is asked of the simulator.
	var ashbyBanner bytes.Buffer
	if err := printAshbyBanner(ctx, &ashbyBanner, sim); err != nil {
		return errors.Join(err, sim.Shutdown(context.WithoutCancel(ctx)))
	}
	if err := printBanner(ctx, stdout, sim, app); err != nil {
		return errors.Join(err, sim.Shutdown(context.WithoutCancel(ctx)))
	}
	if _, err := stdout.Write(ashbyBanner.Bytes()); err != nil {
		return errors.Join(err, sim.Shutdown(context.WithoutCancel(ctx)))
	}
	<-ctx.Done()
	log.Info("stopping")
	return sim.Shutdown(context.WithoutCancel(ctx))
}

func printBanner(ctx context.Context, w io.Writer, sim *providersim.Sim, app simclient.App) error {
	client := sim.Client()
	tenants, err := client.Tenants(ctx)
	if err != nil {
		return err
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("providersim is running")
	p("  Microsoft identity platform  %s   (authority: %s/organizations, or %s/<tenant id>)", sim.MicrosoftURL(), sim.MicrosoftURL(), sim.MicrosoftURL())
	p("  Microsoft Graph              %s/v1.0", sim.GraphURL())
	p("  control API                  %s/_sim/ (also on the Graph port)", sim.MicrosoftURL())
	p("")
	p("App registration")
	p("  client id      %s", app.ClientID)
	p("  client secret  [redacted] (set with -client-secret or TANDEM_SIM_CLIENT_SECRET; default %q)", providersim.DefaultClientSecret)
	for _, u := range app.RedirectURIs {
		p("  redirect URI   %s", u)
	}
	if err := printLeverBanner(ctx, p, sim); err != nil {
		return err
	}
	if len(tenants) == 0 {
		return nil
	}
	p("")
	p("Demo tenants (sign in with the user principal name; demo users need no password)")
	for _, t := range tenants {
		policy := string(t.ConsentPolicy)
		if t.ConsentPolicy == simclient.AdminsOnly {
			if t.AdminConsentWorkflow {
				policy += ", admin consent workflow on"
			} else {
				policy += ", admin consent workflow off"
			}
		}
		p("  %s (%s)  tenant id %s  [%s]", t.DisplayName, t.Domain, t.ID, policy)
		p("    issuer %s", sim.Issuer(t.ID))
		users, err := client.Users(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, u := range users {
			role := "user"
			if u.Admin {
				role = "admin"
			}
			p("    %-5s  %-34s %s, %s", role, u.UserPrincipalName, u.DisplayName, u.JobTitle)
			if !strings.EqualFold(u.Mail, u.UserPrincipalName) {
				note := ""
				if u.OmitEmailClaim {
					note = "; ID tokens have no email claim"
				}
				p("           %-34s (address: %s%s)", "", u.Mail, note)
			}
		}
	}
	return nil
}

func printAshbyBanner(ctx context.Context, w io.Writer, sim *providersim.Sim) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("Ashby API  %s   (POST /<category>.<method>, HTTP Basic with the API key as username)", sim.AshbyURL())
	orgs, err := sim.Client().AshbyOrgs(ctx)
	if err != nil || len(orgs) == 0 {
		return err
	}
	key, err := sim.DemoAshbyKey()
	if err != nil {
		return err
	}
	o, err := sim.Client().AshbyOrg(ctx, providersim.DemoAshbyOrg)
	if err != nil {
		return err
	}
	p("  demo organization  %s (%s)", o.Name, o.ID)
	p("  API key            %s   (%q, write on every module)", key, providersim.DemoAshbyKeyTitle)
	for _, src := range o.Sources {
		if src.Title == providersim.DemoAshbySource {
			p("  Tandem's source    %s (source type %q)", src.ID, src.SourceType)
		}
	}
	p("  try: curl -s -u %s: -H 'Content-Type: application/json' -d '{\"status\":[\"Open\"]}' %s/job.list", key, sim.AshbyURL())
	return nil
}
