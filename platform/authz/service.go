package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"

	"google.golang.org/grpc/credentials"
)

// Metadata keys of a service call. The REST gateway forwards only
// allow-listed headers and these are not on its list, so they can only come
// from inside.
const (
	ServiceTokenMetadata = "x-tandem-service-token"
	ServiceNameMetadata  = "x-tandem-service"
)

// minServiceSecret is the shortest secret accepted: 32 characters of a
// random string are well past guessing.
const minServiceSecret = 32

// DevServiceToken is the service token of the local stack, the default of
// every binary's -service-token. Each binary warns when it runs with it.
const DevServiceToken = "dev-service-token-not-for-production-use"

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ServiceTokens is the shared secret services present to each other's
// internal methods. Previous is accepted too, so the secret can rotate
// without stopping everything: deploy with the new Current and the old as
// Previous, then drop Previous once every caller sends the new one. The
// zero value accepts no service caller.
type ServiceTokens struct {
	Current  string
	Previous string
}

// Validate checks the configuration.
func (s ServiceTokens) Validate() error {
	if len(s.Current) < minServiceSecret {
		return fmt.Errorf("authz: service token must be at least %d characters", minServiceSecret)
	}
	if s.Previous != "" && len(s.Previous) < minServiceSecret {
		return fmt.Errorf("authz: previous service token must be at least %d characters", minServiceSecret)
	}
	return nil
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
	cur := sha256.Sum256([]byte(s.Current))
	ok := subtle.ConstantTimeCompare(got[:], cur[:])
	if s.Previous != "" {
		prev := sha256.Sum256([]byte(s.Previous))
		ok |= subtle.ConstantTimeCompare(got[:], prev[:])
	}
	return ok == 1
}

func (s ServiceTokens) String() string             { return "ServiceTokens{[redacted]}" }
func (s ServiceTokens) GoString() string           { return s.String() }
func (s ServiceTokens) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }
func (s ServiceTokens) LogValue() slog.Value       { return slog.StringValue("[redacted]") }

// MarshalJSON redacts the secrets, for config dumps.
func (s ServiceTokens) MarshalJSON() ([]byte, error) { return json.Marshal("[redacted]") }

// ServiceCredentials attaches a service's name and secret to every call on
// a connection: grpc.WithPerRPCCredentials(authz.ServiceCredentials{...}).
type ServiceCredentials struct {
	Name  string
	Token string
}

var _ credentials.PerRPCCredentials = ServiceCredentials{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c ServiceCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if !serviceName.MatchString(c.Name) || c.Token == "" {
		return nil, errors.New("authz: service credentials need a name and a token")
	}
	return map[string]string{ServiceNameMetadata: c.Name, ServiceTokenMetadata: c.Token}, nil
}

// RequireTransportSecurity is false: services talk plaintext gRPC inside
// the cluster network, and transport security there, if any, is the mesh's.
func (c ServiceCredentials) RequireTransportSecurity() bool { return false }

func (c ServiceCredentials) String() string {
	return "ServiceCredentials{Name: " + c.Name + ", Token: [redacted]}"
}
func (c ServiceCredentials) GoString() string           { return c.String() }
func (c ServiceCredentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }
func (c ServiceCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("token", "[redacted]"))
}

// MarshalJSON redacts the secret, for config dumps.
func (c ServiceCredentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"name": c.Name, "token": "[redacted]"})
}
