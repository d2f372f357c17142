package outreachclient_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/outreachclient"
)

type fakeOutreach struct {
	outreachv1.UnimplementedOutreachServiceServer
}

func (fakeOutreach) ListStagesForService(_ context.Context, r *outreachv1.ListStagesForServiceRequest) (*outreachv1.ListStagesForServiceResponse, error) {
	if r.GetOrganizationId() == "down" {
		return nil, status.Error(codes.Unavailable, "database at 10.0.0.3 unreachable")
	}
	return &outreachv1.ListStagesForServiceResponse{Stages: []*outreachv1.Stage{
		{Id: "s1", Name: "New"}, {Id: "s2", Name: "Old", Retired: true}, {Id: "s3", Name: "Hired"}}}, nil
}

func TestActiveStages(t *testing.T) {
	srv := grpc.NewServer()
	outreachv1.RegisterOutreachServiceServer(srv, fakeOutreach{})
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
	c := outreachclient.New(conn)
	got, err := c.ActiveStages(t.Context(), "org")
	if err != nil || !slices.Equal(got, []mappings.TandemStage{{ID: "s1", Name: "New"}, {ID: "s3", Name: "Hired"}}) {
		t.Fatalf("stages %+v, %v", got, err)
	}
	_, err = c.ActiveStages(t.Context(), "down")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUnavailable || strings.Contains(ae.Public, "10.0.0.3") {
		t.Fatalf("outreach down: %v", err)
	}
}
