package grpcserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
)

func TestToStatus_TextPostgresCannotStoreIsTheClients(t *testing.T) {
	for _, code := range []string{"22021", "22P05"} {
		driver := &pgconn.PgError{Code: code, Message: `invalid byte sequence for encoding "UTF8": 0x00`}
		st, unexpected := ToStatus(fmt.Errorf("store: update organization: %w", driver))
		if st.Code() != codes.InvalidArgument || unexpected {
			t.Errorf("SQLSTATE %s: %v (unexpected %v), want InvalidArgument", code, st, unexpected)
		}
		if strings.Contains(st.Message(), "0x00") || strings.Contains(st.Message(), "UTF8") {
			t.Errorf("SQLSTATE %s: the driver's text reached the client: %q", code, st.Message())
		}
	}
	// Other driver errors stay masked.
	st, unexpected := ToStatus(&pgconn.PgError{Code: "42P01", Message: `relation "users" does not exist`})
	if st.Code() != codes.Internal || !unexpected || st.Message() != InternalMessage {
		t.Errorf("another driver error: %v (unexpected %v)", st, unexpected)
	}
}
