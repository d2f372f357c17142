// Package identityclient is how a service other than identity learns who
// is calling it. It dials identity with the shared service token and gives
// authz.Authenticator what it needs: identity's session-signing public keys
// (fetched and cached, so checking a session token costs no call) and an
// API-token resolver (one identity call per token and cache period).
//
// A service wires it in three lines:
//
//	ic, err := identityclient.Dial(cfg.Identity, "outreach")
//	rt.AddCloser(ic.Close)
//	srv := rt.NewServer(service.ServerSpec{Auth: ic.Authenticator(policy, rt.Redis, cfg.Service.RedisPrefix, rt.Log)})
package identityclient

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/grpcclient"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// DefaultAddr is identity's gRPC address in the local stack.
const DefaultAddr = config.DefaultIdentityAddr

// Config is what a service needs to reach identity and to recognise other
// services.
type Config struct {
	Addr string
	// ServiceTokens are sent to identity (Current) and accepted from other
	// services (both).
	ServiceTokens config.ServiceTokens
	// APITokenTTL bounds how long a resolved API token is trusted without
	// asking identity again: a revoked API token stops working here within
	// this time. Zero asks identity on every call.
	APITokenTTL time.Duration
}

// Register implements config.Group: -identity-addr and the service tokens
// are platform/config's shared flags.
func (c *Config) Register(fs *flag.FlagSet) {
	config.IdentityAddr(fs, &c.Addr)
	c.ServiceTokens.Register(fs)
	fs.DurationVar(&c.APITokenTTL, "api-token-cache-ttl", 30*time.Second, "how long a checked API token is trusted before identity is asked again (0: every call)")
}

// Validate implements config.Group.
func (c *Config) Validate(p *config.Problems) {
	config.CheckHostPort(p, "identity-addr", c.Addr)
	c.ServiceTokens.Validate(p)
	if c.APITokenTTL < 0 || c.APITokenTTL > 5*time.Minute {
		p.Addf("api-token-cache-ttl", "must be between 0 and 5m")
	}
}

// Client talks to identity on behalf of one service.
type Client struct {
	conn     *grpc.ClientConn
	api      identityv1.IdentityServiceClient
	keys     *authz.CachedKeys
	services authz.ServiceTokens
	tokens   *tokenCache
}

// Dial returns a client of identity at cfg.Addr; name is the calling
// service's name, which identity logs. Nothing is sent until first use, so
// a service starts while identity is still starting.
func Dial(cfg Config, name string) (*Client, error) {
	conn, err := grpc.NewClient(cfg.Addr, grpcclient.Options(
		grpc.WithPerRPCCredentials(authz.ServiceCredentials{Name: name, Token: cfg.ServiceTokens.Current}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("identityclient: dial %s: %w", cfg.Addr, err)
	}
	c := &Client{
		conn:     conn,
		api:      identityv1.NewIdentityServiceClient(conn),
		services: authz.ServiceTokens(cfg.ServiceTokens),
		tokens:   newTokenCache(cfg.APITokenTTL, maxCachedTokens),
	}
	c.keys = &authz.CachedKeys{Fetch: c.fetchKeys}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Identity is the raw client, for the internal RPCs a service calls itself
// (GetAccessToken).
func (c *Client) Identity() identityv1.IdentityServiceClient { return c.api }

// Keys is the source of session-verification keys.
func (c *Client) Keys() authz.KeySource { return c.keys }

// Authenticator accepts session tokens (checked against identity's keys and
// the sign-outs identity records in Redis under prefix, or, while that set
// is not known to be complete, identity's own record), API tokens
// (resolved by identity) and other services' token, and applies policy.
func (c *Client) Authenticator(policy authz.Policy, rdb redis.UniversalClient, prefix string, log *slog.Logger) *authz.Authenticator {
	if log != nil && c.services.Current.Value() == config.DevServiceToken {
		log.Warn("using the development service token; set TANDEM_SERVICE_TOKEN in production")
	}
	return &authz.Authenticator{
		Policy:      policy,
		Sessions:    authz.NewVerifier(c.keys, authz.VerifierOptions{}),
		Revocations: authz.DurableRevocations{Redis: authz.RedisRevocations{Client: rdb, Prefix: prefix}, Record: c},
		APITokens:   c,
		Services:    c.services,
		Log:         log,
	}
}

func (c *Client) fetchKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	resp, err := c.api.ListSigningKeys(ctx, &identityv1.ListSigningKeysRequest{})
	if err != nil {
		return nil, fmt.Errorf("identityclient: list signing keys: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(resp.GetKeys()))
	for _, k := range resp.GetKeys() {
		if k.GetKeyId() == "" || len(k.GetPublicKey()) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("identityclient: signing key %q is malformed", k.GetKeyId())
		}
		keys[k.GetKeyId()] = ed25519.PublicKey(k.GetPublicKey())
	}
	return keys, nil
}

// SessionRevoked implements authz.RevocationChecker through identity's
// CheckSession, which answers from its durable record. Authenticator asks
// it only while the revocation set in Redis is incomplete.
func (c *Client) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	resp, err := c.api.CheckSession(ctx, &identityv1.CheckSessionRequest{SessionId: sessionID})
	if err != nil {
		// Not the status text: it is identity's, and the caller logs it.
		return false, fmt.Errorf("identityclient: check session: %s", status.Code(err))
	}
	return resp.GetRevoked(), nil
}

// ResolveAPIToken implements authz.APITokenResolver through identity's
// AuthenticateApiToken, remembering answers for the configured TTL. Only
// successes are remembered: an unknown token is asked about every time, so
// a token just created works at once.
func (c *Client) ResolveAPIToken(ctx context.Context, token string) (authz.Principal, error) {
	key := sha256.Sum256([]byte(token))
	if p, ok := c.tokens.get(key); ok {
		return p, nil
	}
	resp, err := c.api.AuthenticateApiToken(ctx, &identityv1.AuthenticateApiTokenRequest{Token: token})
	if err != nil {
		if status.Code(err) == codes.Unauthenticated {
			return authz.Principal{}, authz.ErrAPITokenInvalid
		}
		// Not the status text: it is identity's, and the caller logs it.
		return authz.Principal{}, fmt.Errorf("identityclient: authenticate API token: %s", status.Code(err))
	}
	role, ok := roleFromProto[resp.GetRole()]
	if !ok {
		return authz.Principal{}, errors.New("identityclient: identity answered an API token without a role")
	}
	p := authz.Principal{Kind: authz.KindAPIToken, OrgID: resp.GetOrganizationId(), TokenID: resp.GetApiTokenId(),
		UserID: resp.GetCreatedByUserId(), Role: role}
	c.tokens.put(key, p)
	return p, nil
}

var roleFromProto = map[identityv1.Role]authz.Role{
	identityv1.Role_ROLE_SUPER_ADMIN:    authz.RoleSuperAdmin,
	identityv1.Role_ROLE_ADMIN:          authz.RoleAdmin,
	identityv1.Role_ROLE_RECRUITER:      authz.RoleRecruiter,
	identityv1.Role_ROLE_HIRING_MANAGER: authz.RoleHiringManager,
	identityv1.Role_ROLE_MEMBER:         authz.RoleMember,
}

// maxCachedTokens bounds the cache: integrations are few, and a flood of
// distinct valid tokens only costs identity calls, never memory.
const maxCachedTokens = 4096

// tokenCache remembers resolved API tokens by their SHA-256, never the
// token itself.
type tokenCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]tokenEntry
}

type tokenEntry struct {
	p       authz.Principal
	expires time.Time
}

func newTokenCache(ttl time.Duration, max int) *tokenCache {
	return &tokenCache{ttl: ttl, max: max, now: time.Now, entries: map[[32]byte]tokenEntry{}}
}

func (c *tokenCache) get(key [32]byte) (authz.Principal, bool) {
	if c.ttl <= 0 {
		return authz.Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return authz.Principal{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		return authz.Principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(key [32]byte, p authz.Principal) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			// Still full of live entries: start over rather than grow.
			clear(c.entries)
		}
	}
	c.entries[key] = tokenEntry{p: p, expires: now.Add(c.ttl)}
}
