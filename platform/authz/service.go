package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"regexp"

	"google.golang.org/grpc/credentials"

	"github.com/tandemhq/tandem/platform/config"
)

// Metadata keys of a service call. The REST gateway forwards only
// allow-listed headers and these are not on its list, so they can only come
// from inside.
const (
	ServiceTokenMetadata = "x-tandem-service-token"
	ServiceNameMetadata  = "x-tandem-service"
)

// DevServiceToken is the service token of the local stack, the default of
// every binary's -service-token. Each binary warns when it runs with it.
const DevServiceToken = config.DevServiceToken

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ServiceTokens is the shared secret services present to each other's
// internal methods. Previous is accepted too, so the secret can rotate
// without stopping everything: deploy with the new Current and the old as
// Previous, then drop Previous once every caller sends the new one. The
// zero value accepts no service caller. It is config.ServiceTokens (which
// registers and validates the flags) as a checker:
// authz.ServiceTokens(cfg.ServiceTokens). The fields are config.Secret, so
// printing it shows no secret.
type ServiceTokens struct {
	Current  config.Secret
	Previous config.Secret
}

func (s ServiceTokens) enabled() bool { return s.Current != "" }

// Accepts reports whether token is the current or the previous secret.
func (s ServiceTokens) Accepts(token string) bool {
	if token == "" || !s.enabled() {
		return false
	}
	// Comparing digests keeps the compare constant-time in the length too,
	// and both secrets are always compared so timing does not tell which
	// one matched.
	got := sha256.Sum256([]byte(token))
	cur := sha256.Sum256([]byte(s.Current.Value()))
	ok := subtle.ConstantTimeCompare(got[:], cur[:])
	if s.Previous != "" {
		prev := sha256.Sum256([]byte(s.Previous.Value()))
		ok |= subtle.ConstantTimeCompare(got[:], prev[:])
	}
	return ok == 1
}

// ServiceCredentials attaches a service's name and secret to every call on
// a connection: grpc.WithPerRPCCredentials(authz.ServiceCredentials{...}).
// Token is a config.Secret, so printing the credentials shows no secret.
type ServiceCredentials struct {
	Name  string
	Token config.Secret
}

var _ credentials.PerRPCCredentials = ServiceCredentials{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c ServiceCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if !serviceName.MatchString(c.Name) || c.Token == "" {
		return nil, errors.New("authz: service credentials need a name and a token")
	}
	return map[string]string{ServiceNameMetadata: c.Name, ServiceTokenMetadata: c.Token.Value()}, nil
}

// RequireTransportSecurity is false: services talk plaintext gRPC inside
// the cluster network, and transport security there, if any, is the mesh's.
func (c ServiceCredentials) RequireTransportSecurity() bool { return false }
