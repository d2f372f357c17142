package e2e

import (
	"context"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/tandemhq/tandem/e2e/stack"
)

// The whole stack comes up, every service answers reflection, and /readyz
// follows a service going down and coming back.
func TestPlatform_ReadinessFollowsServices(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	r := s.WaitReady(60 * time.Second)
	for _, name := range stack.Services {
		if r.Services[name] != "SERVING" {
			t.Fatalf("%s is %q in %+v", name, r.Services[name], r)
		}
		if got := listServices(t, s.Procs[name].Addr); !slices.Contains(got, "tandem."+name+".v1."+serviceName(name)) {
			t.Fatalf("%s reflection lists %v", name, got)
		}
	}

	s.Procs["mailbox"].Stop()
	r = s.WaitReadyStatus(http.StatusServiceUnavailable, 30*time.Second)
	if !slices.Equal(r.NotServing, []string{"mailbox"}) {
		t.Fatalf("want only mailbox named, got %+v", r)
	}
	s.Procs["mailbox"].Start()
	s.WaitReady(60 * time.Second)
}

// Every process stops cleanly, and promptly, on SIGINT.
func TestPlatform_SIGINTStopsEveryProcess(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	for _, name := range append(slices.Clone(stack.Services), "gateway") {
		took, err := s.Procs[name].Signal(syscall.SIGINT, 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := s.Procs[name].ExitCode(); code != 0 {
			t.Fatalf("%s exited %d after SIGINT (took %s):\n%s", name, code, took, s.Procs[name].Logs())
		}
	}
}

func serviceName(svc string) string {
	return map[string]string{"identity": "IdentityService", "outreach": "OutreachService", "atsbridge": "AtsBridgeService", "mailbox": "MailboxService"}[svc]
}

func listServices(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{ListServices: ""}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}
