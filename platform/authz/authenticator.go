package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/tandemhq/tandem/platform/apperr"
)

// Authenticator implements grpcserver.Authenticator: it finds the caller
// from the call's metadata, checks the method's rule and puts the Principal
// in the context.
//
// A nil Sessions or APITokens, or a zero Services, means that kind of
// caller is not accepted by this service.
type Authenticator struct {
	Policy   Policy
	Sessions *Verifier
	// Revocations is required when Sessions is set: a service that took
	// session tokens without it would keep honouring logged-out sessions.
	Revocations RevocationChecker
	APITokens   APITokenResolver
	Services    ServiceTokens
	// Log, if set, records why credentials were refused (never the
	// credentials), which the client is not told.
	Log *slog.Logger
}

// Why a call was refused before any credential was looked at.
var (
	errNoCredentials  = errors.New("authz: no credentials")
	errBadCredentials = errors.New("authz: credentials not understood")
	errNotAccepted    = errors.New("authz: this kind of credential is not accepted here")
	errServiceToken   = errors.New("authz: service token not accepted")
	errRevoked        = errors.New("authz: session revoked")
)

// Authenticate implements grpcserver.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context, fullMethod string) (context.Context, error) {
	rule, ok := a.Policy[fullMethod]
	if !ok || rule.access == accessDenied {
		// Deny by default: a method nobody wrote a rule for is closed.
		return ctx, apperr.PermissionDenied("method not allowed")
	}
	if rule.access == accessPublic {
		return ctx, nil
	}
	p, err := a.authenticate(ctx)
	if err != nil {
		a.logRefusal(ctx, fullMethod, err)
		return ctx, err
	}
	if err := rule.admits(p); err != nil {
		return ctx, err
	}
	return WithPrincipal(ctx, p), nil
}

// admits checks an authenticated caller against the rule.
func (r Rule) admits(p Principal) error {
	switch r.access {
	case accessInternal:
		if p.Kind != KindService {
			return apperr.PermissionDenied("internal method")
		}
		return nil
	case accessRoles:
		if p.Kind == KindService {
			return apperr.PermissionDenied("method not available to services")
		}
		for _, role := range r.roles {
			if p.Role == role {
				return nil
			}
		}
		names := make([]string, len(r.roles))
		for i, role := range r.roles {
			names[i] = string(role)
		}
		return apperr.PermissionDenied("requires role " + strings.Join(names, " or "))
	default:
		return apperr.PermissionDenied("method not allowed")
	}
}

func (a *Authenticator) authenticate(ctx context.Context) (Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get("authorization")
	svc := md.Get(ServiceTokenMetadata)
	switch {
	case len(auth) > 1 || len(svc) > 1:
		// Which one would we honour? Neither.
		return Principal{}, unauthenticated(fmt.Errorf("%w: repeated credentials", errBadCredentials))
	case len(auth) == 1 && len(svc) == 1:
		return Principal{}, unauthenticated(fmt.Errorf("%w: both a bearer and a service token", errBadCredentials))
	case len(svc) == 1:
		return a.service(svc[0], md.Get(ServiceNameMetadata))
	case len(auth) == 1:
		token, ok := bearer(auth[0])
		if !ok {
			return Principal{}, unauthenticated(fmt.Errorf("%w: not a bearer token", errBadCredentials))
		}
		if strings.HasPrefix(token, APITokenPrefix) {
			return a.apiToken(ctx, token)
		}
		return a.session(ctx, token)
	default:
		return Principal{}, apperr.Unauthenticated("authentication required").Wrap(errNoCredentials)
	}
}

func unauthenticated(cause error) error {
	return apperr.Unauthenticated(UnauthenticatedMessage).Wrap(cause)
}

// bearer takes the token out of "Bearer <token>"; the scheme is
// case-insensitive (RFC 9110 §11.1).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (a *Authenticator) session(ctx context.Context, token string) (Principal, error) {
	if a.Sessions == nil {
		return Principal{}, unauthenticated(fmt.Errorf("%w: session token", errNotAccepted))
	}
	if a.Revocations == nil {
		// A wiring bug: refuse rather than ignore revocations. The plain
		// error becomes Internal at the edge and is logged there.
		return Principal{}, errors.New("authz: Authenticator takes sessions but has no RevocationChecker")
	}
	c, err := a.Sessions.Verify(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	revoked, err := a.Revocations.SessionRevoked(ctx, c.SessionID)
	if err != nil {
		// Fail closed: a session revoked because it was stolen must not
		// come back while Redis is away. It costs little: a service whose
		// Redis is down is already NOT_SERVING.
		return Principal{}, apperr.Unavailable("cannot verify credentials now", err)
	}
	if revoked {
		return Principal{}, unauthenticated(errRevoked)
	}
	return c.Principal(), nil
}

func (a *Authenticator) apiToken(ctx context.Context, token string) (Principal, error) {
	if a.APITokens == nil {
		return Principal{}, unauthenticated(fmt.Errorf("%w: API token", errNotAccepted))
	}
	if !IsAPIToken(token) {
		// Not one we could have issued: no need to ask identity.
		return Principal{}, unauthenticated(ErrAPITokenInvalid)
	}
	p, err := a.APITokens.ResolveAPIToken(ctx, token)
	switch {
	case errors.Is(err, ErrAPITokenInvalid):
		// Our sentinel, not the resolver's text, which we do not control.
		return Principal{}, unauthenticated(ErrAPITokenInvalid)
	case err != nil:
		// Fail closed, as for revocations; the caller may retry.
		return Principal{}, apperr.Unavailable("cannot verify credentials now", err)
	}
	if p.Kind != KindAPIToken || p.OrgID == "" || p.TokenID == "" || !p.Role.Valid() {
		return Principal{}, fmt.Errorf("authz: API token resolver returned an incomplete principal %v", p.LogValue())
	}
	return p, nil
}

func (a *Authenticator) service(token string, names []string) (Principal, error) {
	if !a.Services.enabled() {
		return Principal{}, unauthenticated(fmt.Errorf("%w: service token", errNotAccepted))
	}
	if !a.Services.Accepts(token) {
		return Principal{}, unauthenticated(errServiceToken)
	}
	// The name is not authenticated (every service holds the same secret);
	// it is for logs and audit, so it only has to be one value, well formed.
	if len(names) != 1 || !serviceName.MatchString(names[0]) {
		return Principal{}, unauthenticated(fmt.Errorf("%w: service name missing or malformed", errBadCredentials))
	}
	return Principal{Kind: KindService, Service: names[0]}, nil
}

func (a *Authenticator) logRefusal(ctx context.Context, method string, err error) {
	if a.Log == nil {
		return
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindUnauthenticated {
		return // unexpected errors are logged by grpcserver with their cause
	}
	reason := "unknown"
	if ae.Cause != nil {
		reason = ae.Cause.Error()
	}
	a.Log.InfoContext(ctx, "credentials refused", slog.String("method", method), slog.String("reason", reason))
}
