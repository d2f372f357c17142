package atsjobs_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsjobs"
)

type fakeBridge struct {
	atsbridgev1.UnimplementedAtsBridgeServiceServer
}

func (fakeBridge) CheckFlowLink(_ context.Context, r *atsbridgev1.CheckFlowLinkRequest) (*atsbridgev1.CheckFlowLinkResponse, error) {
	switch r.GetExternalJobId() {
	case "down":
		return nil, status.Error(codes.Unavailable, "pq: connection refused at 10.0.0.9")
	case "draft":
		return &atsbridgev1.CheckFlowLinkResponse{Reason: "posting_not_published", Description: "the job posting is draft"}, nil
	}
	return &atsbridgev1.CheckFlowLinkResponse{Ok: true}, nil
}

func TestClientCheckFlowLink(t *testing.T) {
	srv := grpc.NewServer()
	atsbridgev1.RegisterAtsBridgeServiceServer(srv, fakeBridge{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := srv.Serve(lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	c := atsjobs.New(conn)
	if reason, _, err := c.CheckFlowLink(t.Context(), "org", "p-1"); err != nil || reason != "" {
		t.Fatalf("a published posting: %q, %v", reason, err)
	}
	if reason, desc, err := c.CheckFlowLink(t.Context(), "org", "draft"); err != nil || reason != "posting_not_published" || desc == "" {
		t.Fatalf("a draft posting: %q %q, %v", reason, desc, err)
	}
	_, _, err = c.CheckFlowLink(t.Context(), "org", "down")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUnavailable || strings.Contains(ae.Public, "10.0.0.9") {
		t.Fatalf("atsbridge down: %v", err)
	}
}
