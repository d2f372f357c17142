// Package providersim runs simulators of the providers Tandem talks to: the
// Microsoft identity platform (v2.0), Microsoft Graph mail and Ashby, with
// Lever to come. Go tests start one in-process with Start; the providersim
// binary runs the same thing for `make run` and the e2e suite. Each port also
// serves the control API under /_sim/, spoken by package simclient.
package providersim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/ashby"
	"github.com/tandemhq/tandem/providersim/internal/graph"
	"github.com/tandemhq/tandem/providersim/internal/lever"
	"github.com/tandemhq/tandem/providersim/internal/microsoft"
	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Options configure a simulator. The zero value starts both Microsoft
// providers on free local ports with the default app and the demo tenants.
type Options struct {
	// Seed makes identifiers (tenant and user ids, message ids, tokens)
	// repeatable.
	Seed int64
	// MicrosoftAddr and GraphAddr are the listen addresses; empty means
	// "127.0.0.1:0" (a free port).
	MicrosoftAddr string
	GraphAddr     string
	// MicrosoftURL and GraphURL override the base URLs the simulator puts in
	// issuers, discovery documents and links, for when it is reached through
	// another host name. Empty means http://<listen address>.
	MicrosoftURL string
	GraphURL     string
	// Apps are the app registrations to create; nil means DefaultApp().
	Apps []simclient.App
	// NoDemoData leaves out the demo tenants and users.
	NoDemoData bool
	// SigningKey signs ID tokens; nil means a 2048-bit RSA key generated once
	// per process. A second process key is always published beside it as
	// the next key, and the control API rolls keys over.
	SigningKey *rsa.PrivateKey
	// HTTPClient sends subscription validation requests and notifications.
	HTTPClient *http.Client
	// AllowHTTPLoopbackNotifications lets subscriptions use http://
	// notification URLs on loopback hosts (127.0.0.0/8, ::1, localhost).
	// Graph takes only https; make run and tests turn this on.
	AllowHTTPLoopbackNotifications bool
	// GraphLimits are the initial Graph limits; zero fields mean Microsoft's.
	GraphLimits simclient.GraphLimits
	// AshbyAddr is Ashby's listen address (empty: a free port), AshbyURL
	// its public base URL (empty: http://<listen address>), AshbySettings
	// its initial settings (zero fields: the defaults).
	AshbyAddr     string
	AshbyURL      string
	AshbySettings simclient.AshbySettings
	// LeverAddr and LeverOAuthAddr are the listen addresses of Lever's Data
	// API and its OAuth server; LeverURL and LeverOAuthURL override their
	// base URLs. LeverClients are Lever's OAuth apps (nil:
	// DefaultLeverClient()).
	LeverAddr, LeverOAuthAddr string
	LeverURL, LeverOAuthURL   string
	LeverClients              []simclient.LeverClient
	Logger                    *slog.Logger
}

// Sim is a running simulator.
type Sim struct {
	opts     Options
	log      *slog.Logger
	clock    *simcore.Clock
	ids      *simcore.IDs
	counters *simcore.Counters
	faults   *simcore.Faults
	ms       *microsoft.Platform
	graph    *graph.Service
	ashby    *ashby.Service
	lever    *lever.Service

	msURL, graphURL string
	ashbyURL        string
	leverURL        string
	leverOAuthURL   string
	servers         []*http.Server

	resetMu   sync.Mutex
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// The process keys: the signing key and the next key that every simulator
// of the process publishes beside it, generated once (RSA keys are slow).
var (
	processKeysOnce sync.Once
	processKeys     [2]*rsa.PrivateKey
	processKeysErr  error
)

func processSigningKeys() ([2]*rsa.PrivateKey, error) {
	processKeysOnce.Do(func() {
		for i := range processKeys {
			if processKeys[i], processKeysErr = rsa.GenerateKey(rand.Reader, 2048); processKeysErr != nil {
				return
			}
		}
	})
	return processKeys, processKeysErr
}

// Start starts the simulator. It stops when ctx ends or Close is called.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keys, err := processSigningKeys()
	if err != nil {
		return nil, fmt.Errorf("providersim: signing key: %w", err)
	}
	key := opts.SigningKey
	if key == nil {
		key = keys[0]
	}
	var lc net.ListenConfig
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		return lc.Listen(ctx, "tcp", addr)
	}
	msL, err := listen(opts.MicrosoftAddr)
	if err != nil {
		return nil, fmt.Errorf("providersim: listen for Microsoft identity platform: %w", err)
	}
	graphL, err := listen(opts.GraphAddr)
	if err != nil {
		msL.Close()
		return nil, fmt.Errorf("providersim: listen for Graph: %w", err)
	}
	ashbyL, err := listen(opts.AshbyAddr)
	if err != nil {
		msL.Close()
		graphL.Close()
		return nil, fmt.Errorf("providersim: listen for Ashby: %w", err)
	}
	s := &Sim{
		opts:     opts,
		log:      log,
		clock:    simcore.NewClock(),
		ids:      simcore.NewIDs(opts.Seed),
		counters: simcore.NewCounters(),
		done:     make(chan struct{}),
	}
	s.faults = simcore.NewFaults(s.ids)
	s.msURL = baseURL(opts.MicrosoftURL, msL)
	s.graphURL = baseURL(opts.GraphURL, graphL)
	s.ashbyURL = baseURL(opts.AshbyURL, ashbyL)
	s.ashby = ashby.New(ashby.Config{
		Clock: s.clock, IDs: s.ids, Counters: s.counters, Faults: s.faults, Logger: log,
		BaseURL: s.ashbyURL, HTTPClient: opts.HTTPClient, Settings: opts.AshbySettings,
	})
	s.ms, err = microsoft.New(microsoft.Config{
		Clock: s.clock, IDs: s.ids, Counters: s.counters, Faults: s.faults, Logger: log,
		BaseURL: s.msURL, GraphURL: s.graphURL, SigningKey: key, NextSigningKey: keys[1],
	})
	if err != nil {
		msL.Close()
		graphL.Close()
		ashbyL.Close()
		s.ashby.Close()
		return nil, err
	}
	s.graph = graph.New(graph.Config{
		Clock: s.clock, IDs: s.ids, Counters: s.counters, Faults: s.faults, Logger: log,
		Identity: s.ms, BaseURL: s.graphURL, HTTPClient: opts.HTTPClient,
		AllowHTTPLoopback: opts.AllowHTTPLoopbackNotifications,
	})
	leverLs, err := s.listenLever(listen)
	if err == nil {
		if err = s.graph.SetLimitsFrom(opts.GraphLimits); err == nil {
			err = s.seed()
		}
	}
	if err != nil {
		msL.Close()
		graphL.Close()
		ashbyL.Close()
		s.graph.Close()
		s.ashby.Close()
		s.closeLever(leverLs)
		return nil, err
	}
	control := s.controlMux()
	s.servers = []*http.Server{
		s.server(control, s.ms.Handler()),
		s.server(control, s.graph),
		s.server(control, s.ashby),
		s.server(control, s.lever.APIHandler()),
		s.server(control, s.lever.OAuthHandler()),
	}
	for i, l := range append([]net.Listener{msL, graphL, ashbyL}, leverLs...) {
		go func() {
			if err := s.servers[i].Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("providersim: serve", "addr", l.Addr().String(), "err", err)
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			if err := s.Shutdown(context.WithoutCancel(ctx)); err != nil {
				s.log.Warn("providersim: close", "err", err)
			}
		case <-s.done:
		}
	}()
	log.Info("providersim started", "microsoft", s.msURL, "graph", s.graphURL, "ashby", s.ashbyURL, "lever", s.leverURL, "leverOAuth", s.leverOAuthURL)
	return s, nil
}

func baseURL(override string, l net.Listener) string {
	if override != "" {
		return strings.TrimRight(override, "/")
	}
	return "http://" + l.Addr().String()
}

func (s *Sim) server(control, provider http.Handler) *http.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			control.ServeHTTP(w, r)
			return
		}
		provider.ServeHTTP(w, r)
	})
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}

// MicrosoftURL is the identity platform's base URL, e.g.
// http://127.0.0.1:9201; the authority of a tenant is MicrosoftURL()+"/"+tenant.
func (s *Sim) MicrosoftURL() string { return s.msURL }

// GraphURL is Graph's base URL; the API is under GraphURL()+"/v1.0".
func (s *Sim) GraphURL() string { return s.graphURL }

// AshbyURL is Ashby's API base URL; endpoints are AshbyURL()+"/candidate.create" etc.
func (s *Sim) AshbyURL() string { return s.ashbyURL }

// Issuer is the v2.0 issuer of a tenant, as in its ID tokens.
func (s *Sim) Issuer(tenantID string) string { return s.ms.Issuer(tenantID) }

// Client returns a control-API client for this simulator.
func (s *Sim) Client() *simclient.Client { return simclient.New(s.msURL, nil) }

// Reset wipes every tenant, mailbox, token, fault and counter, turns the
// clock back, and seeds the app registrations and demo data again.
func (s *Sim) Reset() error {
	s.resetMu.Lock()
	defer s.resetMu.Unlock()
	s.faults.Reset()
	s.graph.Reset()
	s.ashby.Reset()
	s.lever.Reset()
	if err := s.ms.Reset(); err != nil {
		return err
	}
	s.counters.Reset()
	s.clock.Reset()
	s.ids.Reset()
	if err := s.graph.SetLimitsFrom(s.opts.GraphLimits); err != nil {
		return err
	}
	return s.seed()
}

// Close stops the servers and pending notification deliveries.
func (s *Sim) Close() error { return s.Shutdown(context.Background()) }

// Shutdown is Close within ctx's values and deadline: requests in flight
// get up to 3 seconds, then are cut.
func (s *Sim) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.faults.Reset() // release stalled requests so shutdown can drain
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				// Connections that never sent a request, or requests that
				// will not end, are cut: a simulator may stop hard.
				s.log.Warn("providersim: forced close", "err", err)
				if err := srv.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		s.graph.Close()
		s.ashby.Close()
		s.lever.Close()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
