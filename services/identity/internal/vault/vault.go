// Package vault keeps the OAuth credentials of connections (a user's
// Microsoft mailbox now; Lever and Ashby later) sealed, and hands out access
// tokens, refreshing them ahead of expiry (DESIGN §2, §4).
//
// Redis holds the hot copy; a DurableStore (identity's Postgres) keeps
// every connection's sealed credentials too, written first on every change
// (a connect, a refresh, a refusal) with a version that every write but a
// reconnect compares and swaps, then mirrored to Redis. A connection Redis
// has lost is read back from the DurableStore and restored to Redis, so a
// Redis wipe costs no reconnect. A refresh starts only after the
// DurableStore has just answered, and its result is kept there before Redis
// sees it, so a rotated refresh token is never held by Redis alone; if the
// DurableStore fails in between despite retries, the refreshed credentials
// are dropped (logged) and the connection keeps its previous ones.
//
// One refresh at a time per connection, whatever the number of callers and
// replicas: callers in one process share a single flight, processes take a
// Redis lock with a random owner (kept alive while the refresh runs and
// released only by its owner), and whoever takes the lock reads the
// credentials again before calling the provider, because another replica
// may have refreshed in the meantime. The newest refresh token is always
// kept, so providers that rotate refresh tokens and kill the old one
// (Lever) work as well as those that do not (Microsoft).
//
// A connection whose credentials are gone from both copies, or no longer
// decrypt, reports reconnect_required, as does one whose grant the
// provider refused for good (after checking that another replica had not
// rotated the refresh token already). A refused grant is remembered in
// both copies, so later calls fail at once instead of asking the provider
// again.
//
// A token inside the refresh-ahead window but not yet expired is served at
// once while one refresh runs in the background; only callers holding an
// expired token wait for the refresh, each within its own deadline.
//
// Token values never reach a log, a span or an error: Credentials and
// Token redact themselves when printed.
package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/redisx"
)

// Credentials are a connection's OAuth secrets.
type Credentials struct {
	AccessToken  string
	RefreshToken string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
	// RefreshedAt is when the provider issued these credentials. With
	// ExpiresAt it gives the token's lifetime, which bounds how early a
	// refresh happens (see Options.RefreshBefore).
	RefreshedAt time.Time
	// Scopes are what a refresh asks for; empty lets the provider use the
	// original grant's.
	Scopes []string
	// Provider picks the Refresher (Options.Refreshers); empty is the
	// default one (credentials stored before providers were recorded are
	// Microsoft's).
	Provider string
}

// String shows everything but the tokens.
func (c Credentials) String() string {
	return fmt.Sprintf("vault.Credentials{provider: %q, expires_at: %s, refreshed_at: %s, scopes: %q, tokens: REDACTED}",
		c.Provider, c.ExpiresAt.Format(time.RFC3339), c.RefreshedAt.Format(time.RFC3339), c.Scopes)
}

// GoString shows everything but the tokens.
func (c Credentials) GoString() string { return c.String() }

// Format shows everything but the tokens, whatever the verb.
func (c Credentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// LogValue shows everything but the tokens.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", c.Provider), slog.Time("expires_at", c.ExpiresAt), slog.Time("refreshed_at", c.RefreshedAt), slog.Any("scopes", c.Scopes))
}

// Token is an access token and when it expires.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// String shows the expiry only.
func (t Token) String() string {
	return "vault.Token{expires_at: " + t.ExpiresAt.Format(time.RFC3339) + ", value: REDACTED}"
}

// GoString shows the expiry only.
func (t Token) GoString() string { return t.String() }

// Format shows the expiry only, whatever the verb.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue shows the expiry only.
func (t Token) LogValue() slog.Value { return slog.GroupValue(slog.Time("expires_at", t.ExpiresAt)) }

// Sealer encrypts secrets with the organization's data key, bound to orgID
// and to bind; *envelope.Vault implements it.
type Sealer interface {
	Seal(ctx context.Context, orgID string, plaintext []byte, bind ...string) (string, error)
	Open(ctx context.Context, orgID, sealed string, bind ...string) ([]byte, error)
}

// Refresher redeems a refresh token at the provider.
//
// The returned Credentials need AccessToken and ExpiresAt; an empty
// RefreshToken keeps the current one, empty Scopes keep the current ones,
// a zero RefreshedAt means now.
//
// An error that has a Permanent() bool method returning true means the
// grant is gone and a person must connect again; its Reason() string, if
// it has one, says why in words fit for that person (never the provider's
// text, never a token). Any other error is taken as transient.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string, scopes []string) (Credentials, error)
}

// ConnectionSink records a connection's state in the system of record
// (identity's Postgres). Both calls are idempotent, and scoped by orgID: a
// connection of another organization is left alone.
type ConnectionSink interface {
	MarkReconnectRequired(ctx context.Context, orgID, connectionID, reason string) error
	MarkRefreshed(ctx context.Context, orgID, connectionID string, at time.Time) error
}

// ErrReconnectRequired is in the chain of every error saying a person must
// connect again; the error is also an apperr FailedPrecondition with reason
// "reconnect_required" and the human reason in its public message.
var ErrReconnectRequired = errors.New("vault: the connection must be reconnected")

// Reasons the vault gives itself.
const (
	ReasonLost          = "stored credentials were lost"
	ReasonUndecryptable = "stored credentials could not be decrypted"
	ReasonRevoked       = "the provider refused the grant"
)

// ReconnectReason returns the human reason of an ErrReconnectRequired.
func ReconnectReason(err error) (string, bool) {
	var re *reconnectError
	if errors.As(err, &re) {
		return re.reason, true
	}
	return "", false
}

type reconnectError struct {
	reason string
	cause  error
}

func (e *reconnectError) Error() string {
	if e.cause == nil {
		return "vault: reconnect required: " + e.reason
	}
	return "vault: reconnect required: " + e.reason + ": " + e.cause.Error()
}

func (e *reconnectError) Is(target error) bool { return target == ErrReconnectRequired }
func (e *reconnectError) Unwrap() error        { return e.cause }

func reconnectRequired(reason string, cause error) error {
	return apperr.FailedPrecondition("reconnect_required", "the connection must be reconnected: "+reason).
		Wrap(&reconnectError{reason: reason, cause: cause})
}

// Options configure a Vault. Redis, Durable, Sealer, Sink and a Refresher
// (or Refreshers) are required.
type Options struct {
	Redis   redis.UniversalClient
	Prefix  string // the deployment's -redis-prefix, e.g. "tandem:"
	Durable DurableStore
	Sealer  Sealer
	// Refresher refreshes credentials stored without a Provider
	// (Microsoft's).
	Refresher Refresher
	// Refreshers refresh each provider's credentials: providers differ in
	// their token endpoints and in what a refresh does (Lever rotates the
	// refresh token and kills the old one; Microsoft keeps both valid).
	Refreshers map[string]Refresher
	Sink       ConnectionSink
	// Clock decides when tokens are due; default time.Now.
	Clock func() time.Time
	// RefreshBefore is how long before expiry a token is refreshed, capped
	// at half the token's lifetime so that short-lived tokens are not
	// refreshed on every call. Default 5 minutes.
	RefreshBefore time.Duration
	// LockTTL is how long a refresh lock outlives a replica that died
	// holding it; a live holder keeps extending it. Default 15 seconds.
	LockTTL time.Duration
	// RefreshTimeout bounds one shared refresh: waiting for another
	// replica's lock plus the provider call. Callers whose context ends
	// sooner stop waiting sooner. Default 30 seconds.
	RefreshTimeout time.Duration
	// Logger gets ids, error codes and outcomes; never a token. Default:
	// discard.
	Logger *slog.Logger
}

// Vault stores connection credentials and hands out access tokens. It is
// safe for concurrent use, and any number of replicas may share a Redis.
type Vault struct {
	rdb            redis.UniversalClient
	credKeys       redisx.Keys
	lockKeys       redisx.Keys
	durable        DurableStore
	sealer         Sealer
	refresher      Refresher
	refreshers     map[string]Refresher
	sink           ConnectionSink
	now            func() time.Time
	refreshBefore  time.Duration
	lockTTL        time.Duration
	refreshTimeout time.Duration
	log            *slog.Logger

	flight  singleflight.Group
	cache   openedCache
	notices notices
	// ahead limits how often this replica starts a background refresh of
	// a connection whose refresh keeps failing.
	ahead notices
}

// New checks o and returns a vault.
func New(o Options) (*Vault, error) {
	if o.Redis == nil || o.Durable == nil || o.Sealer == nil || (o.Refresher == nil && len(o.Refreshers) == 0) || o.Sink == nil {
		return nil, errors.New("vault: Redis, Durable, Sealer, a Refresher and Sink are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.RefreshBefore <= 0 {
		o.RefreshBefore = 5 * time.Minute
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 15 * time.Second
	}
	if o.LockTTL < 30*time.Millisecond {
		return nil, errors.New("vault: LockTTL must be at least 30ms")
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Vault{
		rdb:            o.Redis,
		credKeys:       CredentialKeys(o.Prefix),
		lockKeys:       LockKeys(o.Prefix),
		durable:        o.Durable,
		sealer:         o.Sealer,
		refresher:      o.Refresher,
		refreshers:     maps.Clone(o.Refreshers),
		sink:           o.Sink,
		now:            o.Clock,
		refreshBefore:  o.RefreshBefore,
		lockTTL:        o.LockTTL,
		refreshTimeout: o.RefreshTimeout,
		log:            o.Logger,
		cache:          openedCache{max: 10_000},
		notices:        notices{every: time.Minute},
		ahead:          notices{every: aheadRetry},
	}, nil
}

// Put stores a connection's credentials, replacing whatever was there (a
// reconnect clears reconnect_required). A zero RefreshedAt means now.
func (v *Vault) Put(ctx context.Context, orgID, connID string, c Credentials) error {
	if err := checkIDs(orgID, connID); err != nil {
		return err
	}
	if c.AccessToken == "" && c.RefreshToken == "" {
		return apperr.InvalidArgument("credentials", "an access token or a refresh token is required")
	}
	if c.RefreshedAt.IsZero() {
		c.RefreshedAt = v.now()
	}
	sealed, err := v.seal(ctx, orgID, connID, c)
	if err != nil {
		return apperr.Unavailable("could not encrypt the credentials", err)
	}
	version, err := v.durable.Put(ctx, orgID, connID, sealed)
	switch {
	case errors.Is(err, ErrNotKept):
		return apperr.NotFound("connection")
	case err != nil:
		return storeUnavailable(err)
	}
	switch n, err := v.writeRecord(ctx, orgID, connID, sealed, "", version); {
	case err != nil:
		return storeUnavailable(err)
	case n == writeOtherOrg:
		return apperr.NotFound("connection")
	}
	v.cache.drop(connID)
	v.notices.forget(orgID, connID)
	v.ahead.forget(orgID, connID)
	return nil
}

// Delete removes a connection's credentials (the connection is gone).
func (v *Vault) Delete(ctx context.Context, connID string) error {
	if connID == "" {
		return apperr.InvalidArgument("connection_id", "required")
	}
	if err := v.durable.Delete(ctx, connID); err != nil {
		return storeUnavailable(err)
	}
	if err := v.rdb.Del(ctx, v.credKey(connID)).Err(); err != nil {
		return storeUnavailable(err)
	}
	v.cache.drop(connID)
	return nil
}

// AccessToken returns a valid access token of the connection: the stored
// one while it has not expired, otherwise a refreshed one (one refresh for
// all callers and replicas). A stored token due for refresh but still
// valid is served at once, and refreshed in the background.
//
// Errors: ErrReconnectRequired (FailedPrecondition) when a person must
// connect again; apperr Unavailable when Redis or the provider cannot
// answer now (the connection is left as it was); NotFound when the
// connection belongs to another organization.
func (v *Vault) AccessToken(ctx context.Context, orgID, connID string) (Token, error) {
	if err := checkIDs(orgID, connID); err != nil {
		return Token{}, err
	}
	rec, err := v.load(ctx, orgID, connID)
	if err != nil {
		return Token{}, v.fail(ctx, orgID, connID, err)
	}
	now := v.now()
	if !v.due(rec.creds, now) {
		return rec.token(), nil
	}
	if usable(rec.creds, now) {
		v.refreshAhead(ctx, orgID, connID, rec.sealed, now)
		return rec.token(), nil
	}
	return v.sharedRefresh(ctx, orgID, connID, rec.sealed, false)
}

// RefreshedToken refreshes the connection's token now, for a caller the
// provider refused the current one (a grant revoked at the provider is
// found at once: the refresh is refused and the connection reported as
// AccessToken reports it). A refresh another caller or replica made since
// the token was loaded is joined, not repeated.
func (v *Vault) RefreshedToken(ctx context.Context, orgID, connID string) (Token, error) {
	if err := checkIDs(orgID, connID); err != nil {
		return Token{}, err
	}
	rec, err := v.load(ctx, orgID, connID)
	if err != nil {
		return Token{}, v.fail(ctx, orgID, connID, err)
	}
	return v.sharedRefresh(ctx, orgID, connID, rec.sealed, true)
}

// ForceRefresh refreshes the connection's token now, however long it is
// still valid, unless another replica is refreshing it or just did. The
// background job uses it so refresh tokens do not age out while a
// connection is idle.
func (v *Vault) ForceRefresh(ctx context.Context, orgID, connID string) error {
	if err := checkIDs(orgID, connID); err != nil {
		return err
	}
	rec, err := v.load(ctx, orgID, connID)
	if err != nil {
		return v.fail(ctx, orgID, connID, err)
	}
	_, err = v.sharedRefresh(ctx, orgID, connID, rec.sealed, true)
	return err
}

func checkIDs(orgID, connID string) error {
	switch {
	case orgID == "":
		return apperr.InvalidArgument("organization_id", "required")
	case connID == "":
		return apperr.InvalidArgument("connection_id", "required")
	}
	return nil
}

// refresherFor is the Refresher of a provider's credentials: the default
// one for credentials without a provider, nil for a provider this
// deployment has no Refresher of (Lever not configured): its refresh
// token must never go to another provider.
func (v *Vault) refresherFor(provider string) Refresher {
	if provider == "" {
		return v.refresher
	}
	return v.refreshers[provider]
}

// due reports whether c should be refreshed at now: within RefreshBefore
// of expiry, but never earlier than half-way through the token's life.
func (v *Vault) due(c Credentials, now time.Time) bool {
	if c.AccessToken == "" {
		return true
	}
	ahead := v.refreshBefore
	if life := c.ExpiresAt.Sub(c.RefreshedAt); !c.RefreshedAt.IsZero() && life > 0 && life/2 < ahead {
		ahead = life / 2
	}
	return !now.Before(c.ExpiresAt.Add(-ahead))
}

// usable reports whether c's access token has not expired at now.
func usable(c Credentials, now time.Time) bool {
	return c.AccessToken != "" && now.Before(c.ExpiresAt)
}
