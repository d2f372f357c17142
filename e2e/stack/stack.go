// Package stack runs the whole Tandem system for end-to-end tests: the real
// binaries as separate processes, on free ports, against a fresh Postgres
// database and a private Redis key prefix, exactly as `make run` wires them.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tandemhq/tandem/platform/logging/logtest"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Services are the gRPC services, in start order.
var Services = []string{"identity", "outreach", "atsbridge", "mailbox"}

// Binaries builds every binary once into dir and returns dir. Call it from
// TestMain.
func Binaries(dir string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	pkgs := []string{"./gateway/cmd/gateway", "./providersim/cmd/providersim"}
	for _, s := range Services {
		pkgs = append(pkgs, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	return nil
}

func repoRoot() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		return "", fmt.Errorf("repo root not found from %s", file)
	}
	return root, nil
}

// Process is one running binary.
type Process struct {
	Name string
	Addr string
	bin  string
	args []string
	env  []string
	t    testing.TB

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *logtest.Buffer
}

// Start runs the process (again, after a Stop).
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() //nolint:errcheck // its error is the exit status, which ExitCode reports
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// Signal sends sig and waits up to within for the process to exit; it
// reports how long that took.
func (p *Process) Signal(sig syscall.Signal, within time.Duration) (time.Duration, error) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return 0, nil
	}
	start := time.Now()
	// A process that has already exited cannot be signalled; done then
	// closes at once. Any other failure shows in the timeout's error.
	sigErr := cmd.Process.Signal(sig)
	select {
	case <-done:
		return time.Since(start), nil
	case <-time.After(within):
		killErr := cmd.Process.Kill()
		<-done
		return time.Since(start), errors.Join(fmt.Errorf("%s did not exit within %s of %v", p.Name, within, sig), sigErr, killErr)
	}
}

// Stop ends the process with SIGTERM.
func (p *Process) Stop() {
	p.t.Helper()
	if _, err := p.Signal(syscall.SIGTERM, 20*time.Second); err != nil {
		p.t.Error(err)
	}
}

// ExitCode is the exit code of the last run, or -1 while running.
func (p *Process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Logs is everything the process has written.
func (p *Process) Logs() string { return p.logs.String() }

// Stack is a running Tandem.
type Stack struct {
	GatewayURL string
	// MicrosoftURL and GraphURL are the simulators' base URLs.
	MicrosoftURL string
	GraphURL     string
	// AshbyURL is the simulated Ashby API's base URL.
	AshbyURL string
	// LeverURL (the Data API, under /v1) and LeverOAuthURL are the Lever
	// simulator's base URLs.
	LeverURL      string
	LeverOAuthURL string
	// FrontendURL is where flows end with their one-time code; nothing
	// listens there: tests read the code from the redirect.
	FrontendURL  string
	DatabaseURL  string
	RedisPrefix  string
	ServiceToken string
	// FilesDir is the directory outreach's file:// bucket keeps candidates'
	// files in, one per stack.
	FilesDir string
	Procs    map[string]*Process
	t        testing.TB
	redis    redis.UniversalClient
}

// Redis is a client of the Redis every process of the stack uses.
func (s *Stack) Redis() redis.UniversalClient { return s.redis }

// LoseRedis deletes every key of the stack, as a Redis that restarted
// empty would have lost them (other tests share the server, so it is not
// flushed), and returns how many there were.
func (s *Stack) LoseRedis(ctx context.Context) int {
	s.t.Helper()
	n, err := pgtest.DeleteRedisPrefix(ctx, s.redis, s.RedisPrefix)
	if err != nil {
		s.t.Fatalf("losing Redis: %v", err)
	}
	return n
}

// Options tune a Stack.
type Options struct {
	// Env is added to every process's environment.
	Env []string
	// IdentityReplicas starts more identity processes ("identity-2", ...)
	// beside the one the gateway uses.
	IdentityReplicas int
	// PostgresVia sends the named processes' Postgres connections to
	// another host:port (a FaultProxy in front of Postgres) instead.
	PostgresVia map[string]string
	// ProcessEnv is added to the named processes' environment only, after
	// Env: settings that one service reads and another would refuse.
	ProcessEnv map[string][]string
}

// FrontendURL is the frontend every stack names.
const FrontendURL = "http://frontend.invalid"

// Start runs every service and the gateway from binDir and waits until
// /readyz answers 200. Everything is stopped when the test ends; on failure
// the processes' logs are printed.
func Start(t testing.TB, binDir string, opts Options) *Stack {
	t.Helper()
	// The prefix's keys are deleted when the test ends. This cleanup is
	// registered before the one that stops the processes, so it runs after
	// it (cleanups run last first) and no process writes a key behind it.
	rdb := pgtest.NewRedis(t)
	s := &Stack{DatabaseURL: pgtest.NewDatabase(t), RedisPrefix: pgtest.RedisPrefixCleaned(t, rdb), Procs: map[string]*Process{}, t: t, redis: rdb,
		ServiceToken: "e2e-service-token-" + pgtest.RandomSuffix() + pgtest.RandomSuffix(), FrontendURL: FrontendURL}
	// Every address at once: a port closed and asked for again can come back.
	addrs := freeAddrs(t, 6+len(Services)+opts.IdentityReplicas)
	next := func() string { a := addrs[0]; addrs = addrs[1:]; return a }
	gwAddr, msAddr, graphAddr := next(), next(), next()
	s.GatewayURL, s.MicrosoftURL, s.GraphURL = "http://"+gwAddr, "http://"+msAddr, "http://"+graphAddr
	ashbyAddr := next()
	s.AshbyURL = "http://" + ashbyAddr
	leverAddr, leverOAuthAddr := next(), next()
	s.LeverURL, s.LeverOAuthURL = "http://"+leverAddr, "http://"+leverOAuthAddr
	common := append([]string{
		"TANDEM_DATABASE_URL=" + s.DatabaseURL,
		"TANDEM_REDIS_URL=" + pgtest.RedisURL(),
		"TANDEM_REDIS_PREFIX=" + s.RedisPrefix,
		"TANDEM_LOG_FORMAT=json",
		"TANDEM_HEALTH_INTERVAL=200ms",
		"TANDEM_SERVICE_TOKEN=" + s.ServiceToken,
		"TANDEM_MICROSOFT_AUTHORITY=" + s.MicrosoftURL,
		"TANDEM_PUBLIC_URL=" + s.GatewayURL,
		"TANDEM_FRONTEND_URL=" + s.FrontendURL,
		"TANDEM_GRPC_REFLECTION=true",
	}, opts.Env...)
	s.Procs["providersim"] = &Process{Name: "providersim", Addr: msAddr, bin: filepath.Join(binDir, "providersim"), t: t, logs: &logtest.Buffer{},
		args: []string{"-microsoft-addr", msAddr, "-graph-addr", graphAddr, "-ashby-addr", ashbyAddr, "-lever-addr", leverAddr, "-lever-oauth-addr", leverOAuthAddr, "-allow-http-loopback",
			"-redirect-uri", s.GatewayURL + "/oauth/microsoft/callback", "-redirect-uri", s.GatewayURL + "/oauth/microsoft/adminconsent/callback"}}
	s.FilesDir = t.TempDir()
	filesBucket := "TANDEM_FILES_BUCKET_URL=" + (&url.URL{Scheme: "file", Path: filepath.ToSlash(s.FilesDir)}).String()
	envOf := func(name string) []string {
		env := common
		if name == "outreach" {
			env = append(slices.Clone(env), filesBucket)
		}
		env = append(slices.Clone(env), opts.ProcessEnv[name]...)
		via, ok := opts.PostgresVia[name]
		if !ok {
			return env
		}
		u, err := url.Parse(s.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = via
		// The last value of a variable is the one a process sees.
		return append(slices.Clone(env), "TANDEM_DATABASE_URL="+u.String())
	}
	gwArgs := []string{}
	svcAddrs := map[string]string{}
	for _, name := range Services {
		svcAddrs[name] = next()
	}
	// outreach hands flow steps to mailbox (-mailbox-addr).
	common = append(common, "TANDEM_MAILBOX_ADDR="+svcAddrs["mailbox"])
	for _, name := range Services {
		addr := svcAddrs[name]
		args := []string{"-grpc-addr", addr}
		if name != "identity" {
			// The other services check callers' tokens with identity.
			args = append(args, "-identity-addr", svcAddrs["identity"])
		}
		// Events between services (ADR 15), as scripts/run.sh routes them.
		switch name {
		case "identity":
			args = append(args, identityArgs(svcAddrs, s.LeverOAuthURL)...)
		case "outreach":
			// Linking a flow to an ATS job is checked with atsbridge.
			args = append(args, "-atsbridge-addr", svcAddrs["atsbridge"],
				"-event-subscribers", "atsbridge="+svcAddrs["atsbridge"], "-event-routes", "atsbridge=enrollment.created|candidate.stage_changed|note.created")
		case "atsbridge":
			// The import mirrors postings into outreach's jobs; the stage
			// mapping reads outreach's stages; Lever's webhooks reach the
			// gateway, and their moves go to outreach.
			args = append(args, "-lever-url", s.LeverURL, "-outreach-addr", svcAddrs["outreach"],
				"-event-subscribers", "outreach="+svcAddrs["outreach"], "-event-routes", "outreach=ats.job_synced|ats.linked|ats.stage_changed",
				"-webhook-base-url", s.GatewayURL, "-push-claim", "20s")
		case "mailbox":
			args = append(args, "-event-subscribers", "outreach="+svcAddrs["outreach"], "-event-routes", "outreach=message.sent|message.received",
				"-graph-url", s.GraphURL, "-webhook-base-url", s.GatewayURL)
		}
		s.Procs[name] = &Process{Name: name, Addr: addr, bin: filepath.Join(binDir, name), args: args, env: envOf(name), t: t, logs: &logtest.Buffer{}}
		gwArgs = append(gwArgs, "-"+name+"-addr", addr)
	}
	for i := 2; i <= opts.IdentityReplicas+1; i++ {
		name, addr := fmt.Sprintf("identity-%d", i), next()
		s.Procs[name] = &Process{Name: name, Addr: addr, bin: filepath.Join(binDir, "identity"),
			args: append([]string{"-grpc-addr", addr}, identityArgs(svcAddrs, s.LeverOAuthURL)...), env: envOf(name), t: t, logs: &logtest.Buffer{}}
	}
	s.Procs["gateway"] = &Process{Name: "gateway", Addr: gwAddr, bin: filepath.Join(binDir, "gateway"), args: append(gwArgs, "-http-addr", gwAddr), env: common, t: t, logs: &logtest.Buffer{}}

	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, p := range s.Procs {
			wg.Go(p.Stop)
		}
		wg.Wait()
		if t.Failed() {
			for name, p := range s.Procs {
				t.Logf("---- %s logs ----\n%s", name, tail(p.Logs(), 60))
			}
		}
	})
	s.Procs["providersim"].Start()
	s.waitHTTP(s.MicrosoftURL+"/_sim/health", 30*time.Second)
	s.registerLeverApp()
	for name, p := range s.Procs {
		if name != "providersim" {
			p.Start()
		}
	}
	s.WaitReady(60 * time.Second)
	for i := 2; i <= opts.IdentityReplicas+1; i++ {
		s.waitServing(s.Procs[fmt.Sprintf("identity-%d", i)], 60*time.Second)
	}
	return s
}

// identityArgs are identity's events (mailbox.* to mailbox, ats.* to
// atsbridge, as scripts/run.sh routes them) and its Lever OAuth server.
func identityArgs(svcAddrs map[string]string, leverOAuthURL string) []string {
	return []string{"-event-subscribers", "mailbox=" + svcAddrs["mailbox"] + ",atsbridge=" + svcAddrs["atsbridge"],
		"-event-routes", "mailbox=mailbox.*,atsbridge=ats.*",
		"-lever-authorize-url", leverOAuthURL + "/authorize", "-lever-token-url", leverOAuthURL + "/oauth/token"}
}

// registerLeverApp points the simulator's Lever app at this stack's
// gateway: Lever redirects only to a registered URI.
func (s *Stack) registerLeverApp() {
	s.t.Helper()
	app := providersim.DefaultLeverClient()
	app.RedirectURIs = []string{s.GatewayURL + "/oauth/lever/callback"}
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	if _, err := simclient.New(s.MicrosoftURL, nil).CreateLeverClient(ctx, app); err != nil {
		s.t.Fatalf("registering the Lever app: %v", err)
	}
}

// waitServing polls a process's gRPC health until it says SERVING.
func (s *Stack) waitServing(p *Process, within time.Duration) {
	s.t.Helper()
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	poll.Until(s.t, within, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if c := p.ExitCode(); c > 0 {
			s.t.Fatalf("%s exited with %d:\n%s", p.Name, c, tail(p.Logs(), 40))
		}
		return fmt.Errorf("%s is %v (%w), want SERVING", p.Name, resp.GetStatus(), err)
	})
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// freeAddrs returns n distinct free loopback addresses, holding every port
// until all are chosen.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

func (s *Stack) waitHTTP(url string, within time.Duration) {
	s.t.Helper()
	poll.Until(s.t, within, func() error {
		resp, err := httpClient.Get(url)
		if err != nil {
			return fmt.Errorf("%s: %w", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answers %d, want 200", url, resp.StatusCode)
		}
		return nil
	})
}

// TandemLogs is the output of every Tandem process (not the simulator's),
// for checks that nothing secret was logged.
func (s *Stack) TandemLogs() string {
	var b strings.Builder
	for name, p := range s.Procs {
		if name == "providersim" {
			continue
		}
		b.WriteString("==== " + name + "\n" + p.Logs())
	}
	return b.String()
}

// httpClient is the stack's client for its own HTTP checks: a hung
// endpoint fails the check instead of holding the test.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// Readiness is the gateway's /readyz body.
type Readiness struct {
	Status     string            `json:"status"`
	Services   map[string]string `json:"services"`
	NotServing []string          `json:"not_serving"`
}

// Ready asks the gateway's /readyz.
func (s *Stack) Ready(ctx context.Context) (int, Readiness, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+"/readyz", nil)
	if err != nil {
		return 0, Readiness{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, Readiness{}, err
	}
	defer resp.Body.Close()
	var r Readiness
	err = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r, err
}

// WaitReady polls /readyz until it answers 200.
func (s *Stack) WaitReady(within time.Duration) Readiness {
	s.t.Helper()
	return s.WaitReadyStatus(http.StatusOK, within)
}

// WaitReadyStatus polls /readyz until it answers code.
func (s *Stack) WaitReadyStatus(code int, within time.Duration) Readiness {
	s.t.Helper()
	var last Readiness
	poll.Until(s.t, within, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, r, err := s.Ready(ctx)
		cancel()
		last = r
		if err == nil && got == code {
			return nil
		}
		for name, p := range s.Procs {
			if c := p.ExitCode(); c > 0 {
				s.t.Fatalf("%s exited with %d while waiting for /readyz:\n%s", name, c, tail(p.Logs(), 40))
			}
		}
		return fmt.Errorf("/readyz answers %d %+v (%w), want %d", got, r, err, code)
	})
	return last
}
