package authz

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tandemhq/tandem/platform/apperr"
)

// PrincipalKind says how a caller authenticated.
type PrincipalKind int

const (
	// KindUser is a person with a session token.
	KindUser PrincipalKind = iota + 1
	// KindAPIToken is an integration with an API token issued by identity.
	KindAPIToken
	// KindService is another Tandem service calling an internal method.
	KindService
)

func (k PrincipalKind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindAPIToken:
		return "api_token"
	case KindService:
		return "service"
	default:
		return "unknown"
	}
}

// Principal is the authenticated caller of an RPC. Users and API tokens
// belong to exactly one organization; services belong to none and pass the
// organization they act on in the request.
type Principal struct {
	Kind      PrincipalKind
	OrgID     string
	UserID    string // the person; for an API token, the user who created it, if known
	SessionID string // KindUser only
	TokenID   string // KindAPIToken only: the token's id, never its secret
	Role      Role
	Service   string // KindService only: the calling service's name
}

// LogValue shows ids and the role only; a Principal holds no secret today,
// and this keeps it so if one is ever added.
func (p Principal) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", p.Kind.String())}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("org", p.OrgID)
	add("user", p.UserID)
	add("session", p.SessionID)
	add("token", p.TokenID)
	add("role", string(p.Role))
	add("service", p.Service)
	return slog.GroupValue(attrs...)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p. Only the Authenticator and
// tests should call it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, if the context has been authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Caller returns the caller or an Unauthenticated error. Handlers of public
// methods get the error: those methods run without a principal.
func Caller(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, apperr.Unauthenticated("authentication required")
	}
	return p, nil
}

// ErrNoOrganization is returned by OrgID for a service caller. It is a bug
// in the handler, not the caller's fault, so it carries no apperr kind and
// the edge reports it as Internal and logs it.
var ErrNoOrganization = errors.New("authz: service callers have no organization; internal methods take it from the request")

// OrgID is the organization every query of this call must be scoped to. The
// organization always comes from the caller, never from the request: an id
// in a request body is only ever compared to it.
func OrgID(ctx context.Context) (string, error) {
	p, err := Caller(ctx)
	if err != nil {
		return "", err
	}
	if p.Kind == KindService || p.OrgID == "" {
		return "", ErrNoOrganization
	}
	return p.OrgID, nil
}
