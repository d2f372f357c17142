// Package grants tells, when the ATS refuses a connection's access token
// (HTTP 401), a token that had only expired or been rotated from access
// the customer revoked. Every worker that calls the ATS (pushes, the
// catalog import, the reconcile, the webhooks' registration, the apply
// job's read of a restored opportunity) asks the same way, so a stale
// token never turns a connection reconnect_required by itself (DESIGN §2:
// only a provider's refusal of the refresh does).
package grants

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// ReasonRefused is a connection's status reason once the ATS and
// identity both refused Tandem's access.
const ReasonRefused = "Lever refused Tandem's access; a Super Admin must connect Lever again"

// Tokens is identity's GetAccessToken.
type Tokens interface {
	GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error)
}

// Revoked asks identity to refresh the token of the connection that the
// ATS refused. A refused refresh (FailedPrecondition: the customer revoked
// Tandem's access, and identity turned the connection reconnect_required,
// its event bringing the status to atsbridge) or a connection identity no
// longer holds (NotFound) is revoked. A refresh that worked means the
// caller tries again with the new token; one that could not be made now
// (identity or the provider unavailable) counts as not revoked, so the
// caller tries again later rather than giving the connection up.
func Revoked(ctx context.Context, tokens Tokens, connectionID string) bool {
	_, err := tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: connectionID, Refresh: true})
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.NotFound:
		return true
	}
	return false
}
