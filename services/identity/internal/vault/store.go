package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/redisx"
)

// A connection is one Redis hash, CredentialKeys(prefix).Key(connID), that
// is <prefix>vault:cred:<connID>, the hot copy of what the DurableStore
// keeps:
//
//	org        the organization id, in clear, so that another
//	           organization's request is NotFound before anything opens
//	sealed     the credentials as JSON, sealed with the organization's data
//	           key and bound to the connection id and sealPurpose
//	reconnect  present when the provider refused the grant: the reason.
//	           sealed is removed then; Put starts afresh.
//	version    the DurableStore's version of these credentials (absent in
//	           records written before there was one: 0)
//
// Every write of sealed is a fresh seal with a random nonce, so comparing
// sealed strings tells whether the credentials changed. Redis only ever
// moves to a higher version, so a slow writer of an older version cannot
// overwrite a newer one.
const (
	fieldOrg       = "org"
	fieldSealed    = "sealed"
	fieldReconnect = "reconnect"
	fieldVersion   = "version"

	sealPurpose = "vault/credentials/v1"
)

// CredentialKeys and LockKeys are the vault's Redis key families (ADR 13):
// a connection's credentials and the lock of its refresh. The credentials
// keep their name from before ADR 13: Redis is their only copy today, and
// a rename would make every connection reconnect.
func CredentialKeys(prefix string) redisx.Keys { return redisx.Legacy(prefix, "vault:cred") }

// LockKeys: see CredentialKeys.
func LockKeys(prefix string) redisx.Keys { return redisx.ServiceKeys(prefix, "identity", "vault-lock") }

func (v *Vault) credKey(connID string) string { return v.credKeys.Key(connID) }
func (v *Vault) lockKey(connID string) string { return v.lockKeys.Key(connID) }

// record is a connection's stored state, opened.
type record struct {
	sealed  string
	creds   Credentials
	version int64
}

func (r record) token() Token { return Token{Value: r.creds.AccessToken, ExpiresAt: r.creds.ExpiresAt} }

// Load failures, mapped to client errors by fail.
var (
	errLost          = errors.New("vault: no stored credentials")
	errUndecryptable = errors.New("vault: stored credentials do not open")
	errOtherOrg      = errors.New("vault: connection of another organization")
)

// storeError is Redis or the sealer failing: retry later.
type storeError struct {
	what string
	err  error
}

func (e *storeError) Error() string { return "vault: " + e.what + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// refusedError is a grant the provider refused earlier, remembered in
// Redis.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "vault: grant refused earlier: " + e.reason }

// load reads and opens the connection's credentials from Redis, or from
// the DurableStore when Redis has lost them.
func (v *Vault) load(ctx context.Context, orgID, connID string) (record, error) {
	vals, err := v.rdb.HMGet(ctx, v.credKey(connID), fieldOrg, fieldSealed, fieldReconnect, fieldVersion).Result()
	if err != nil {
		return record{}, &storeError{"reading credentials", err}
	}
	org, sealed, reconnect := str(vals[0]), str(vals[1]), str(vals[2])
	switch {
	case org == "" && sealed == "" && reconnect == "":
		return v.reload(ctx, orgID, connID)
	case org != orgID:
		return record{}, errOtherOrg
	case reconnect != "":
		return record{}, &refusedError{reason: reconnect}
	case sealed == "":
		return v.reload(ctx, orgID, connID)
	}
	// Absent in records written before versions: 0.
	var version int64
	if s := str(vals[3]); s != "" {
		if version, err = strconv.ParseInt(s, 10, 64); err != nil {
			return record{}, &storeError{"reading the credentials' version", err}
		}
	}
	c, err := v.opened(ctx, orgID, connID, sealed)
	if err != nil {
		return record{}, err
	}
	if version == 0 {
		version = v.backfill(ctx, orgID, connID, sealed)
	}
	return record{sealed: sealed, creds: c, version: version}, nil
}

// backfill keeps credentials that Redis alone holds, written before the
// DurableStore was, so that losing Redis does not lose them; it returns
// their version (0 if they could not be kept now: the next load tries
// again). It runs once per connection: Redis then holds the version too.
func (v *Vault) backfill(ctx context.Context, orgID, connID, sealed string) int64 {
	version, err := v.durable.Swap(ctx, orgID, connID, 0, sealed)
	if err != nil {
		// ErrVersionChanged: kept already (another replica was first, or a
		// newer version is kept, which a refresh will find).
		if !errors.Is(err, ErrVersionChanged) {
			v.log.WarnContext(ctx, "could not keep credentials stored before the system of record held them",
				"org_id", orgID, "connection_id", connID, "error", err)
		}
		return 0
	}
	v.mirror(ctx, orgID, connID, sealed, "", version)
	v.log.InfoContext(ctx, "credentials kept in the system of record", "org_id", orgID, "connection_id", connID)
	return version
}

// opened opens sealed, or takes it from the cache.
func (v *Vault) opened(ctx context.Context, orgID, connID, sealed string) (Credentials, error) {
	if c, ok := v.cache.get(connID, orgID, sealed); ok {
		return c, nil
	}
	c, err := v.open(ctx, orgID, connID, sealed)
	if err != nil {
		return Credentials{}, err
	}
	v.cache.put(connID, orgID, sealed, c)
	return c, nil
}

// reload reads what the DurableStore keeps for a connection Redis has lost,
// and puts it back into Redis. Only when neither has the credentials are
// they lost.
func (v *Vault) reload(ctx context.Context, orgID, connID string) (record, error) {
	k, err := v.durable.Get(ctx, connID)
	switch {
	case errors.Is(err, ErrNotKept):
		return record{}, errLost
	case err != nil:
		return record{}, &storeError{"reading kept credentials", err}
	}
	rec, err := v.restore(ctx, orgID, connID, k)
	if err == nil {
		v.log.InfoContext(ctx, "credentials restored from the system of record",
			"org_id", orgID, "connection_id", connID, "version", k.Version)
	}
	return rec, err
}

// restore opens kept credentials and writes them to Redis, unless Redis
// already holds them or newer ones.
func (v *Vault) restore(ctx context.Context, orgID, connID string, k Kept) (record, error) {
	switch {
	case k.OrgID != orgID:
		return record{}, errOtherOrg
	case k.Refused != "":
		v.mirror(ctx, orgID, connID, "", k.Refused, k.Version)
		return record{}, &refusedError{reason: k.Refused}
	case k.Sealed == "":
		return record{}, errLost
	}
	c, err := v.opened(ctx, orgID, connID, k.Sealed)
	if err != nil {
		return record{}, err
	}
	v.mirror(ctx, orgID, connID, k.Sealed, "", k.Version)
	return record{sealed: k.Sealed, creds: c, version: k.Version}, nil
}

// mirror writes kept state to Redis, best effort: the DurableStore has it,
// and a Redis that missed it is behind, not wrong.
func (v *Vault) mirror(ctx context.Context, orgID, connID, sealed, refused string, version int64) {
	if _, err := v.writeRecord(ctx, orgID, connID, sealed, refused, version); err != nil {
		v.log.WarnContext(ctx, "could not write credentials to Redis; the system of record has them",
			"org_id", orgID, "connection_id", connID, "error", err)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// fail turns a load failure into the caller's error, telling the sink
// when the credentials are lost or unreadable.
func (v *Vault) fail(ctx context.Context, orgID, connID string, err error) error {
	var se *storeError
	var re *refusedError
	switch {
	case errors.Is(err, errLost):
		return v.lost(ctx, orgID, connID, ReasonLost, err)
	case errors.Is(err, errUndecryptable):
		return v.lost(ctx, orgID, connID, ReasonUndecryptable, err)
	case errors.Is(err, errOtherOrg):
		return apperr.NotFound("connection")
	case errors.As(err, &re):
		return reconnectRequired(re.reason, nil)
	case errors.As(err, &se):
		return storeUnavailable(err)
	}
	return err
}

func storeUnavailable(err error) error {
	return apperr.Unavailable("the credential store is unavailable, try again", err)
}

// lost reports a connection whose credentials are gone. The sink hears of
// it at most once a minute per replica: every caller would otherwise tell
// it again, and nothing is written to Redis, where a marker would be
// lost with everything else or outlive a deleted connection.
func (v *Vault) lost(ctx context.Context, orgID, connID, reason string, cause error) error {
	if v.notices.due(orgID, connID, v.now()) {
		v.log.WarnContext(ctx, "connection credentials unusable; reconnect required",
			"org_id", orgID, "connection_id", connID, "reason", reason)
		if err := v.sink.MarkReconnectRequired(ctx, orgID, connID, reason); err != nil {
			v.notices.forget(orgID, connID)
			v.log.ErrorContext(ctx, "could not record that a connection must be reconnected",
				"org_id", orgID, "connection_id", connID, "error", err)
		}
	}
	return reconnectRequired(reason, cause)
}

// writeScript writes a connection's record at a version (ARGV[4]): the
// sealed credentials (ARGV[2]), or the refusal (ARGV[3]). A record of
// another organization is left alone (0); one already at that version or
// newer is kept (2); otherwise the record is replaced (1).
var writeScript = redis.NewScript(`
local org = redis.call('HGET', KEYS[1], 'org')
if org and org ~= ARGV[1] then return 0 end
local held = redis.call('HEXISTS', KEYS[1], 'sealed') == 1 or redis.call('HEXISTS', KEYS[1], 'reconnect') == 1
if held and tonumber(redis.call('HGET', KEYS[1], 'version') or '0') >= tonumber(ARGV[4]) then return 2 end
redis.call('DEL', KEYS[1])
if ARGV[3] ~= '' then
	redis.call('HSET', KEYS[1], 'org', ARGV[1], 'reconnect', ARGV[3], 'version', ARGV[4])
else
	redis.call('HSET', KEYS[1], 'org', ARGV[1], 'sealed', ARGV[2], 'version', ARGV[4])
end
return 1
`)

// Results of writeScript.
const (
	writeOtherOrg = 0
	writeDone     = 1
	writeBehind   = 2
)

func (v *Vault) writeRecord(ctx context.Context, orgID, connID, sealed, refused string, version int64) (int, error) {
	return writeScript.Run(ctx, v.rdb, []string{v.credKey(connID)}, orgID, sealed, refused, version).Int()
}

// storedCredentials is the sealed JSON.
type storedCredentials struct {
	AccessToken  string    `json:"at,omitempty"`
	RefreshToken string    `json:"rt,omitempty"`
	ExpiresAt    time.Time `json:"exp,omitzero"`
	RefreshedAt  time.Time `json:"ref,omitzero"`
	Scopes       []string  `json:"scp,omitempty"`
	Provider     string    `json:"prv,omitempty"`
}

func (v *Vault) seal(ctx context.Context, orgID, connID string, c Credentials) (string, error) {
	pt, err := json.Marshal(storedCredentials(c))
	if err != nil {
		return "", fmt.Errorf("vault: encoding credentials: %w", err)
	}
	defer clear(pt)
	return v.sealer.Seal(ctx, orgID, pt, connID, sealPurpose)
}

func (v *Vault) open(ctx context.Context, orgID, connID, sealed string) (Credentials, error) {
	pt, err := v.sealer.Open(ctx, orgID, sealed, connID, sealPurpose)
	if err != nil {
		if sealedForGood(err) {
			return Credentials{}, fmt.Errorf("%w: %w", errUndecryptable, err)
		}
		return Credentials{}, &storeError{"opening credentials", err}
	}
	defer clear(pt)
	var sc storedCredentials
	if err := json.Unmarshal(pt, &sc); err != nil {
		// Not the JSON error: it may quote the plaintext.
		return Credentials{}, fmt.Errorf("%w: not credentials JSON", errUndecryptable)
	}
	return Credentials(sc), nil
}

// sealedForGood reports whether an Open failure will not go away: the value
// was altered, is bound to something else, or its data key is gone. A KEK
// missing from the configuration is not among them: fixing the
// configuration fixes every connection, and nobody should have to
// reconnect for it.
func sealedForGood(err error) bool {
	return errors.Is(err, envelope.ErrDecrypt) || errors.Is(err, envelope.ErrMalformed) ||
		errors.Is(err, envelope.ErrDataKeyMismatch) || errors.Is(err, envelope.ErrDataKeyNotFound)
}

// openedCache spares the decryption of credentials already opened: an
// entry is used only while Redis still holds the very same sealed string
// for the same organization, so it is never stale and never crosses
// organizations. It holds plaintext tokens in process memory, which the
// vault holds anyway while it works.
type openedCache struct {
	mu  sync.RWMutex
	m   map[string]openedEntry
	max int
}

type openedEntry struct {
	orgID, sealed string
	creds         Credentials
}

func (c *openedCache) get(connID, orgID, sealed string) (Credentials, bool) {
	c.mu.RLock()
	e, ok := c.m[connID]
	c.mu.RUnlock()
	if !ok || e.orgID != orgID || e.sealed != sealed {
		return Credentials{}, false
	}
	return e.creds, true
}

func (c *openedCache) put(connID, orgID, sealed string, creds Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		// Rare (a replica serving more connections than max); starting
		// over costs one decryption per connection.
		c.m = make(map[string]openedEntry)
	}
	c.m[connID] = openedEntry{orgID: orgID, sealed: sealed, creds: creds}
}

func (c *openedCache) drop(connID string) {
	c.mu.Lock()
	delete(c.m, connID)
	c.mu.Unlock()
}

// notices limits how often this replica tells the sink that a
// connection's credentials are lost.
type notices struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
}

func (n *notices) due(orgID, connID string, now time.Time) bool {
	k := orgID + "\x00" + connID
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.last[k]; ok && now.Sub(t) < n.every {
		return false
	}
	if n.last == nil || len(n.last) > 10_000 {
		n.last = make(map[string]time.Time)
	}
	n.last[k] = now
	return true
}

func (n *notices) forget(orgID, connID string) {
	n.mu.Lock()
	delete(n.last, orgID+"\x00"+connID)
	n.mu.Unlock()
}
