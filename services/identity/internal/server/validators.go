package server

import (
	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

func required[T any](field string, get func(T) string) grpcserver.Validator {
	return func(req any) error {
		r, ok := req.(T)
		if !ok {
			return apperr.InvalidArgument("", "unexpected request type")
		}
		if get(r) == "" {
			return apperr.InvalidArgument(field, "is required")
		}
		return nil
	}
}

// callback checks which OAuth callback the gateway says was hit.
func callback(req any) error {
	r, ok := req.(*identityv1.CompleteAuthorizationRequest)
	if !ok {
		return apperr.InvalidArgument("", "unexpected request type")
	}
	if r.GetState() == "" {
		return apperr.InvalidArgument("state", "is required")
	}
	if c := r.GetCallback(); c != "authorize" && c != "admin_consent" && c != "lever" {
		return apperr.InvalidArgument("callback", `must be "authorize", "admin_consent" or "lever"`)
	}
	return nil
}

// Validators check requests before the handlers run; the handlers check
// what depends on the caller or the stored data.
var Validators = map[string]grpcserver.Validator{
	svc + "ExchangeLoginCode":     required("code", (*identityv1.ExchangeLoginCodeRequest).GetCode),
	svc + "RefreshSession":        required("refresh_token", (*identityv1.RefreshSessionRequest).GetRefreshToken),
	svc + "GetUser":               required("user_id", (*identityv1.GetUserRequest).GetUserId),
	svc + "UpdateUser":            required("user.id", func(r *identityv1.UpdateUserRequest) string { return r.GetUser().GetId() }),
	svc + "RemoveUser":            required("user_id", (*identityv1.RemoveUserRequest).GetUserId),
	svc + "RevokeApiToken":        required("api_token_id", (*identityv1.RevokeApiTokenRequest).GetApiTokenId),
	svc + "GetConnection":         required("connection_id", (*identityv1.GetConnectionRequest).GetConnectionId),
	svc + "CompleteAuthorization": callback,
	svc + "AuthenticateApiToken":  required("token", (*identityv1.AuthenticateApiTokenRequest).GetToken),
	svc + "GetAccessToken":        required("connection_id", (*identityv1.GetAccessTokenRequest).GetConnectionId),
	svc + "CheckSession":          required("session_id", (*identityv1.CheckSessionRequest).GetSessionId),
	svc + "GetUserForService": func(req any) error {
		if err := required("organization_id", (*identityv1.GetUserForServiceRequest).GetOrganizationId)(req); err != nil {
			return err
		}
		return required("user_id", (*identityv1.GetUserForServiceRequest).GetUserId)(req)
	},
}
