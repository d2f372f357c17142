// Package signin runs the OAuth flows with the Microsoft identity platform:
// sign-in (OIDC, authorization code with PKCE), admin consent on behalf of an
// organization, and the mailbox connection's incremental consent, with every
// path the tenant's consent policy can take.
//
// A flow's state lives in Redis for ten minutes, single use, bound to the
// browser that started it (the SHA-256 of a random value in a cookie the
// gateway sets). The callback never hands tokens to the browser: it ends on
// the frontend with a one-time code that the frontend exchanges.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Scopes asked at each step. Sign-in asks only for sign-in scopes; the
// mailbox adds the mail scopes incrementally.
var (
	SignInScopes  = []string{"openid", "profile", "email", "offline_access", "User.Read"}
	MailboxScopes = []string{"openid", "profile", "email", "offline_access", "https://graph.microsoft.com/Mail.Send", "https://graph.microsoft.com/Mail.ReadWrite"}
	// AdminConsentScopes are what an admin grants for the whole organization.
	AdminConsentScopes = []string{"openid", "profile", "email", "offline_access",
		"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/Mail.Send", "https://graph.microsoft.com/Mail.ReadWrite"}
)

// Flows.
const (
	FlowSignIn       = "sign_in"
	FlowAdminConsent = "admin_consent"
	flowAdminConfirm = "admin_confirm"
	FlowMailbox      = "mailbox"
	// FlowLever connects the organization's Lever account (lever.go).
	FlowLever = "lever"
)

// Outcomes the frontend learns from the one-time code.
const (
	OutcomeSignedIn              = "signed_in"
	OutcomeMailboxConnected      = "mailbox_connected"
	OutcomeAdminApprovalRequired = "admin_approval_required"
	OutcomeAdminConsentGranted   = "admin_consent_granted"
	OutcomeLeverConnected        = "lever_connected"
	OutcomeDeclined              = "declined"
	OutcomeFailed                = "failed"
)

// Tokens are what the token endpoint returned for a code.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	ExpiresAt    time.Time
	Scopes       []string
	// Provider is whose tokens these are: "" for Microsoft's, "lever".
	Provider string
}

// CodeExchanger redeems an authorization code at the token endpoint.
type CodeExchanger interface {
	ExchangeCode(ctx context.Context, code, redirectURI, verifier string, scopes []string) (Tokens, error)
}

// IDClaims are the verified claims of an ID token.
type IDClaims struct {
	TenantID string
	ObjectID string
	// Email is the email claim, empty when the token has none (often, for
	// work accounts); Username is preferred_username, the UPN, which is a
	// sign-in name and not necessarily an address.
	Email    string
	Username string
	Name     string
	Nonce    string
	// DirectoryRoles are the role template ids of the wids claim.
	DirectoryRoles []string
}

// consentAdminRoles are the directory roles that may grant tenant-wide
// consent to delegated Microsoft Graph permissions: Global Administrator,
// Privileged Role Administrator, Cloud Application Administrator and
// Application Administrator.
var consentAdminRoles = []string{
	"62e90394-69f5-4237-9190-012177145e10",
	"e8611ab8-c189-46e8-94e1-60213ab1f814",
	"158c047a-c907-4556-b7ef-446551a6b5f7",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
}

// CanGrantAdminConsent reports whether the claims name a role that may
// grant consent for the whole organization.
func (c IDClaims) CanGrantAdminConsent() bool {
	return slices.ContainsFunc(c.DirectoryRoles, func(r string) bool { return slices.Contains(consentAdminRoles, r) })
}

// IDVerifier verifies an ID token (signature, issuer of its tenant,
// audience, expiry) and returns its claims.
type IDVerifier interface {
	Verify(ctx context.Context, rawIDToken string) (IDClaims, error)
}

// AddressLookup finds the primary SMTP address of the signed-in user
// (Graph's mail) with the sign-in's access token, for an ID token without
// an email claim.
type AddressLookup interface {
	PrimaryAddress(ctx context.Context, accessToken string) (string, error)
}

// CredentialVault keeps a connection's tokens.
type CredentialVault interface {
	Put(ctx context.Context, orgID, connectionID string, t Tokens) error
}

// Store is what the flows need of the identity store.
type Store interface {
	SignInUser(ctx context.Context, in store.SignIn) (store.Organization, store.User, bool, error)
	MarkAdminConsent(ctx context.Context, orgID string, at time.Time) error
	User(ctx context.Context, orgID, userID string) (store.User, error)
	PersonalConnection(ctx context.Context, orgID, userID, provider string) (store.Connection, error)
	UpsertPersonalConnection(ctx context.Context, c store.Connection) (store.Connection, error)
	SetConnectionStatus(ctx context.Context, orgID, id, status, reason string) error
	UpsertOrgConnection(ctx context.Context, c store.Connection) (store.Connection, error)
	OrgConnection(ctx context.Context, orgID, provider string) (store.Connection, error)
}

// Config says where Microsoft and Tandem are.
type Config struct {
	// Authority is the identity platform's base URL.
	Authority string
	// Tenant is the authority path for multi-tenant sign-in: "organizations".
	Tenant   string
	ClientID string
	// PublicURL is the gateway's external base URL; redirect URIs hang off it.
	PublicURL string
	// FrontendURL receives the one-time code at /auth/complete; empty means
	// the gateway's built-in page under PublicURL + "/app".
	FrontendURL string
	// Lever is where Lever's authorization server is (lever.go).
	Lever LeverConfig
}

// RedirectURI is the sign-in and mailbox callback.
func (c Config) RedirectURI() string { return c.PublicURL + "/oauth/microsoft/callback" }

// AdminConsentRedirectURI is the admin-consent callback.
func (c Config) AdminConsentRedirectURI() string {
	return c.PublicURL + "/oauth/microsoft/adminconsent/callback"
}

// AdminConsentLink is the link a user forwards to their IT admin: it starts
// an admin-consent flow in the admin's own browser.
func (c Config) AdminConsentLink() string {
	return c.PublicURL + "/oauth/microsoft/start?flow=" + FlowAdminConsent
}

func (c Config) frontendComplete(code string) string {
	base := c.FrontendURL
	if base == "" {
		base = c.PublicURL + "/app"
	}
	return base + "/auth/complete?code=" + url.QueryEscape(code)
}

// Flows runs the OAuth flows.
type Flows struct {
	cfg       Config
	redis     redis.UniversalClient
	prefix    string
	store     Store
	exchange  CodeExchanger
	lever     LeverExchanger
	verify    IDVerifier
	addresses AddressLookup
	vault     CredentialVault
	log       *slog.Logger
	now       func() time.Time
}

// Options wires Flows.
type Options struct {
	Config    Config
	Redis     redis.UniversalClient
	Prefix    string
	Store     Store
	Exchanger CodeExchanger
	// Lever redeems Lever's codes; nil leaves Lever flows unavailable.
	Lever    LeverExchanger
	Verifier IDVerifier
	// Addresses answers for ID tokens without an email claim; nil falls back
	// to the UPN.
	Addresses AddressLookup
	Vault     CredentialVault
	Logger    *slog.Logger
	Now       func() time.Time
}

// New returns the flows.
func New(o Options) *Flows {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Flows{cfg: o.Config, redis: o.Redis, prefix: o.Prefix, store: o.Store, exchange: o.Exchanger, lever: o.Lever, verify: o.Verifier, addresses: o.Addresses, vault: o.Vault, log: o.Logger, now: o.Now}
}

// Config returns the flows' configuration.
func (f *Flows) Config() Config { return f.cfg }

const (
	stateTTL  = 10 * time.Minute
	ticketTTL = 5 * time.Minute
	codeTTL   = 2 * time.Minute
)

// flowState is what a flow remembers between its start and its callback.
type flowState struct {
	Flow          string `json:"flow"`
	Verifier      string `json:"verifier,omitempty"`
	Nonce         string `json:"nonce,omitempty"`
	BindingHash   []byte `json:"binding"`
	CodeChallenge []byte `json:"code_challenge,omitempty"`
	OrgID         string `json:"org,omitempty"`
	UserID        string `json:"user,omitempty"`
	ClaimedTenant string `json:"claimed_tenant,omitempty"`
}

type ticket struct {
	Flow   string `json:"flow"`
	OrgID  string `json:"org"`
	UserID string `json:"user"`
	Email  string `json:"email"`
}

// LoginResult is what a one-time code stands for.
type LoginResult struct {
	Outcome         string `json:"outcome"`
	Message         string `json:"message"`
	AdminConsentURL string `json:"admin_consent_url,omitempty"`
	OrgID           string `json:"org,omitempty"`
	UserID          string `json:"user,omitempty"`
	ConnectionID    string `json:"connection,omitempty"`
	// The code is redeemed only with a verifier whose SHA-256 is one of
	// these: the browser binding, or the frontend's code challenge.
	BindingHash   []byte `json:"binding,omitempty"`
	CodeChallenge []byte `json:"code_challenge,omitempty"`
}

func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error: it crashes the program instead.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// OAuthKeys is the Redis key family of one kind of one-time OAuth secret
// ("state", "code", "ticket"), kept by the hash of the secret (ADR 13):
// <prefix>identity:oauth-<kind>:<sha256 hex>.
func OAuthKeys(prefix, kind string) redisx.Keys {
	return redisx.ServiceKeys(prefix, "identity", "oauth-"+kind)
}

func (f *Flows) key(kind, secret string) string {
	return OAuthKeys(f.prefix, kind).Key(hashKey(secret))
}

func (f *Flows) put(ctx context.Context, kind, secret string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := f.redis.Set(ctx, f.key(kind, secret), b, ttl).Err(); err != nil {
		return apperr.Unavailable("try again in a moment", fmt.Errorf("store %s: %w", kind, err))
	}
	return nil
}

// take reads and deletes a one-time record; a second take finds nothing.
func (f *Flows) take(ctx context.Context, kind, secret string, v any) (bool, error) {
	if secret == "" {
		return false, nil
	}
	b, err := f.redis.GetDel(ctx, f.key(kind, secret)).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Unavailable("try again in a moment", fmt.Errorf("take %s: %w", kind, err))
	}
	return true, json.Unmarshal(b, v)
}

// NewTicket lets a signed-in user start a flow that needs them (the
// mailbox, Lever) in the browser: the REST call returns a start URL
// carrying the ticket, on the start route of the flow's provider.
func (f *Flows) NewTicket(ctx context.Context, flow, orgID, userID, email string) (string, error) {
	t := randomToken(32)
	if err := f.put(ctx, "ticket", t, ticket{Flow: flow, OrgID: orgID, UserID: userID, Email: email}, ticketTTL); err != nil {
		return "", err
	}
	start := "/oauth/microsoft/start"
	if flow == FlowLever {
		start = "/oauth/lever/start"
	}
	return f.cfg.PublicURL + start + "?ticket=" + url.QueryEscape(t), nil
}

// BeginRequest starts a flow.
type BeginRequest struct {
	Flow        string
	Ticket      string
	BindingHash []byte
	LoginHint   string
	// CodeChallenge, when set, is the SHA-256 of a verifier the frontend
	// keeps to redeem the flow's login code.
	CodeChallenge []byte
}

// Begin stores the flow's state and returns the provider URL to send the
// browser to.
func (f *Flows) Begin(ctx context.Context, r BeginRequest) (string, error) {
	if len(r.BindingHash) != sha256.Size {
		return "", apperr.InvalidArgument("browser_binding_hash", "must be a SHA-256 hash")
	}
	if len(r.CodeChallenge) != 0 && len(r.CodeChallenge) != sha256.Size {
		return "", apperr.InvalidArgument("login_code_challenge", "must be a SHA-256 hash")
	}
	st := flowState{BindingHash: r.BindingHash, CodeChallenge: r.CodeChallenge}
	hint := r.LoginHint
	switch {
	case r.Ticket != "":
		var t ticket
		ok, err := f.take(ctx, "ticket", r.Ticket, &t)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", apperr.InvalidArgument("ticket", "unknown, expired or already used")
		}
		st.Flow, st.OrgID, st.UserID = t.Flow, t.OrgID, t.UserID
		hint = t.Email
	case r.Flow == FlowSignIn || r.Flow == FlowAdminConsent:
		st.Flow = r.Flow
	default:
		return "", apperr.InvalidArgument("flow", `must be "sign_in" or "admin_consent", or a ticket given`)
	}
	state := randomToken(32)
	switch st.Flow {
	case FlowSignIn:
		return f.authorize(ctx, state, st, SignInScopes, hint)
	case FlowMailbox:
		return f.authorize(ctx, state, st, MailboxScopes, hint)
	case FlowLever:
		return f.authorizeLever(ctx, state, st)
	case FlowAdminConsent:
		if err := f.put(ctx, "state", state, st, stateTTL); err != nil {
			return "", err
		}
		q := url.Values{"client_id": {f.cfg.ClientID}, "scope": {strings.Join(AdminConsentScopes, " ")},
			"redirect_uri": {f.cfg.AdminConsentRedirectURI()}, "state": {state}}
		// Never /common/ for admin consent.
		return f.cfg.Authority + "/organizations/v2.0/adminconsent?" + q.Encode(), nil
	}
	return "", apperr.InvalidArgument("ticket", "unknown flow")
}

func (f *Flows) authorize(ctx context.Context, state string, st flowState, scopes []string, hint string) (string, error) {
	st.Verifier = oauth2.GenerateVerifier()
	st.Nonce = randomToken(24)
	if err := f.put(ctx, "state", state, st, stateTTL); err != nil {
		return "", err
	}
	c := oauth2.Config{
		ClientID:    f.cfg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: f.cfg.Authority + "/" + f.cfg.Tenant + "/oauth2/v2.0/authorize"},
		RedirectURL: f.cfg.RedirectURI(),
		Scopes:      scopes,
	}
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(st.Verifier),
		oauth2.SetAuthURLParam("response_mode", "query"),
		oauth2.SetAuthURLParam("nonce", st.Nonce),
	}
	if hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	return c.AuthCodeURL(state, opts...), nil
}

// CompleteRequest carries a callback's parameters.
type CompleteRequest struct {
	// Callback is "authorize" or "admin_consent".
	Callback         string
	State            string
	Code             string
	Error            string
	ErrorDescription string
	BindingHash      []byte
	Tenant           string
}

var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

// Complete finishes a flow and returns where to send the browser: the
// frontend with a one-time code, or, after an admin consent, the admin's
// confirming sign-in.
func (f *Flows) Complete(ctx context.Context, r CompleteRequest) (string, error) {
	var st flowState
	ok, err := f.take(ctx, "state", r.State, &st)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", apperr.InvalidArgument("state", "unknown, expired or already used")
	}
	if len(r.BindingHash) == 0 || subtle.ConstantTimeCompare(st.BindingHash, r.BindingHash) != 1 {
		return "", apperr.PermissionDenied("this sign-in was started in another browser")
	}
	wantCallback := "authorize"
	switch st.Flow {
	case FlowAdminConsent:
		wantCallback = "admin_consent"
	case FlowLever:
		wantCallback = "lever"
	}
	if r.Callback != wantCallback {
		return "", apperr.InvalidArgument("state", "does not belong to this callback")
	}
	if st.Flow == FlowLever {
		return f.completeLever(ctx, st, r)
	}
	if r.Error != "" {
		return f.failed(ctx, st, r)
	}
	if st.Flow == FlowAdminConsent {
		// The tenant parameter can be forged: confirm by having the admin
		// sign in to that tenant.
		confirm := flowState{Flow: flowAdminConfirm, BindingHash: st.BindingHash, CodeChallenge: st.CodeChallenge, ClaimedTenant: r.Tenant}
		return f.authorize(ctx, randomToken(32), confirm, SignInScopes, "")
	}
	if r.Code == "" {
		return "", apperr.InvalidArgument("code", "is required")
	}
	scopes := SignInScopes
	if st.Flow == FlowMailbox {
		scopes = MailboxScopes
	}
	tokens, err := f.exchange.ExchangeCode(ctx, r.Code, f.cfg.RedirectURI(), st.Verifier, scopes)
	if err != nil {
		f.log.WarnContext(ctx, "code exchange failed", slog.String("flow", st.Flow), slog.Any("error", err))
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Microsoft did not accept the sign-in; please try again."})
	}
	claims, err := f.verify.Verify(ctx, tokens.IDToken)
	if err != nil {
		f.log.WarnContext(ctx, "id token rejected", slog.String("flow", st.Flow), slog.Any("error", err))
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "The sign-in could not be verified; please try again."})
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(st.Nonce)) != 1 {
		f.log.WarnContext(ctx, "id token nonce mismatch", slog.String("flow", st.Flow))
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "The sign-in could not be verified; please try again."})
	}
	if claims.Email == "" {
		addr, err := f.primaryAddress(ctx, tokens.AccessToken, claims)
		if err != nil {
			f.log.WarnContext(ctx, "primary address lookup failed", slog.String("flow", st.Flow), slog.Any("error", err))
			return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Microsoft did not tell us your email address; please try again."})
		}
		claims.Email = addr
	}
	switch st.Flow {
	case FlowMailbox:
		return f.completeMailbox(ctx, st, tokens, claims)
	default:
		return f.completeSignIn(ctx, st, claims)
	}
}

// primaryAddress is the address of a user whose ID token has no email
// claim: Graph's mail. Only an account without a mailbox (no mail) falls
// back to its UPN, the one name it has.
func (f *Flows) primaryAddress(ctx context.Context, accessToken string, c IDClaims) (string, error) {
	if f.addresses == nil {
		return c.Username, nil
	}
	addr, err := f.addresses.PrimaryAddress(ctx, accessToken)
	if err != nil {
		return "", err
	}
	if addr == "" {
		return c.Username, nil
	}
	return addr, nil
}

func (f *Flows) completeSignIn(ctx context.Context, st flowState, c IDClaims) (string, error) {
	if st.Flow == flowAdminConfirm {
		// Checked before anything is stored: the confirming sign-in must be
		// an administrator of the very tenant the callback named.
		if st.ClaimedTenant != c.TenantID {
			f.log.WarnContext(ctx, "admin consent tenant does not match the admin's sign-in")
			return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "The consent was given for another organization than the one you signed in to."})
		}
		if !c.CanGrantAdminConsent() {
			f.log.WarnContext(ctx, "admin consent confirmed by a user without an administrator role")
			return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Only an administrator of your organization can confirm its consent; sign in with an administrator account."})
		}
	}
	org, user, _, err := f.store.SignInUser(ctx, store.SignIn{TenantID: c.TenantID, ObjectID: c.ObjectID, Email: c.Email, DisplayName: c.Name, OrgName: orgName(c.Email)})
	if errors.Is(err, store.ErrUserRemoved) {
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Your account was removed from this organization."})
	}
	if err != nil {
		return "", err
	}
	res := LoginResult{Outcome: OutcomeSignedIn, Message: "Signed in.", OrgID: org.ID, UserID: user.ID}
	if st.Flow == flowAdminConfirm {
		if err := f.store.MarkAdminConsent(ctx, org.ID, f.now()); err != nil {
			return "", err
		}
		res.Outcome, res.Message = OutcomeAdminConsentGranted, "Consent granted for your organization; everyone in it can now sign in."
	}
	return f.finish(ctx, st, res)
}

func (f *Flows) completeMailbox(ctx context.Context, st flowState, t Tokens, c IDClaims) (string, error) {
	user, err := f.store.User(ctx, st.OrgID, st.UserID)
	if err != nil {
		return "", err
	}
	if c.ObjectID != user.MicrosoftObjectID {
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Connect the mailbox of the account you signed in with."})
	}
	if t.RefreshToken == "" {
		return f.finish(ctx, st, LoginResult{Outcome: OutcomeFailed, Message: "Microsoft granted no offline access; please try again."})
	}
	// The record first (its id binds the sealed tokens), then the tokens,
	// then the status that says they are there.
	conn, err := f.store.UpsertPersonalConnection(ctx, store.Connection{OrgID: st.OrgID, UserID: st.UserID, Provider: store.ProviderMicrosoftMailbox,
		Status: store.StatusReconnectRequired, Reason: "connecting", Account: c.Email, Scopes: t.Scopes})
	if err != nil {
		return "", err
	}
	if err := f.vault.Put(ctx, st.OrgID, conn.ID, t); err != nil {
		// Say so rather than leave the record half-way.
		if serr := f.store.SetConnectionStatus(ctx, st.OrgID, conn.ID, store.StatusReconnectRequired, "the credentials could not be stored; connect again"); serr != nil {
			f.log.ErrorContext(ctx, "record failed connection", slog.Any("error", serr))
		}
		return "", err
	}
	now := f.now()
	conn, err = f.store.UpsertPersonalConnection(ctx, store.Connection{OrgID: st.OrgID, UserID: st.UserID, Provider: store.ProviderMicrosoftMailbox,
		Status: store.StatusConnected, Account: c.Email, Scopes: t.Scopes, RefreshedAt: &now})
	if err != nil {
		return "", err
	}
	return f.finish(ctx, st, LoginResult{Outcome: OutcomeMailboxConnected, Message: "Your mailbox is connected.", OrgID: st.OrgID, UserID: st.UserID, ConnectionID: conn.ID})
}

// failed turns an error redirect into an outcome. Only the AADSTS code
// tells "an admin must approve" from "the user said no".
func (f *Flows) failed(ctx context.Context, st flowState, r CompleteRequest) (string, error) {
	code := ""
	if m := aadsts.FindStringSubmatch(r.ErrorDescription); m != nil {
		code = m[1]
	}
	res := LoginResult{Outcome: OutcomeFailed, Message: "Microsoft could not complete the sign-in.", OrgID: st.OrgID, UserID: st.UserID}
	switch {
	case code == "90094" || code == "90095":
		res.Outcome = OutcomeAdminApprovalRequired
		res.Message = "Your organization requires an administrator to approve Tandem. Forward the link to your IT admin, then try again once they have approved."
		res.AdminConsentURL = f.cfg.AdminConsentLink()
	case code == "65004" || r.Error == "access_denied" || r.Error == "consent_required":
		res.Outcome = OutcomeDeclined
		res.Message = "The consent was declined."
	}
	f.log.InfoContext(ctx, "authorization ended with an error", slog.String("flow", st.Flow), slog.String("error", r.Error), slog.String("aadsts", code), slog.String("outcome", res.Outcome))
	if st.Flow == FlowMailbox {
		// A connection that worked before keeps working; only a new one waits.
		conn, err := f.store.PersonalConnection(ctx, st.OrgID, st.UserID, store.ProviderMicrosoftMailbox)
		if err != nil && !errors.Is(err, postgres.ErrNotFound) {
			return "", err
		}
		if err != nil || conn.Status != store.StatusConnected {
			status, reason := store.StatusDisconnected, res.Message
			if res.Outcome == OutcomeAdminApprovalRequired {
				status = store.StatusAwaitingAdminApproval
			}
			conn, err = f.store.UpsertPersonalConnection(ctx, store.Connection{OrgID: st.OrgID, UserID: st.UserID, Provider: store.ProviderMicrosoftMailbox,
				Status: status, Reason: reason, AdminConsentURL: res.AdminConsentURL})
			if err != nil {
				return "", err
			}
		}
		res.ConnectionID = conn.ID
	}
	return f.finish(ctx, st, res)
}

// finish issues the one-time code for res, bound to the browser that
// started the flow st.
func (f *Flows) finish(ctx context.Context, st flowState, res LoginResult) (string, error) {
	res.BindingHash, res.CodeChallenge = st.BindingHash, st.CodeChallenge
	code := randomToken(32)
	if err := f.put(ctx, "code", code, res, codeTTL); err != nil {
		return "", err
	}
	return f.cfg.frontendComplete(code), nil
}

// TakeLoginCode redeems a one-time code for the browser that started its
// flow: the verifier's SHA-256 must be the flow's browser binding or its
// code challenge. A wrong verifier leaves the code for its browser, so
// whoever else holds the URL can neither redeem nor spend it.
func (f *Flows) TakeLoginCode(ctx context.Context, code, verifier string) (LoginResult, error) {
	var res LoginResult
	unknown := apperr.InvalidArgument("code", "unknown, expired or already used")
	if code == "" {
		return res, unknown
	}
	b, err := f.redis.Get(ctx, f.key("code", code)).Bytes()
	if errors.Is(err, redis.Nil) {
		return res, unknown
	}
	if err != nil {
		return res, apperr.Unavailable("try again in a moment", fmt.Errorf("read code: %w", err))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return LoginResult{}, fmt.Errorf("decode code: %w", err)
	}
	if !proves(verifier, res.BindingHash) && !proves(verifier, res.CodeChallenge) {
		return LoginResult{}, apperr.InvalidArgument("code_verifier", "does not match the browser that started the sign-in")
	}
	// Taken for real only now: of two exchanges racing, one gets it.
	ok, err := f.take(ctx, "code", code, &res)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, unknown
	}
	return res, nil
}

// proves reports whether verifier's SHA-256 is hash.
func proves(verifier string, hash []byte) bool {
	if verifier == "" || len(hash) != sha256.Size {
		return false
	}
	h := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// orgName names a new organization after the sign-in's email domain.
func orgName(email string) string {
	if at := strings.LastIndex(email, "@"); at >= 0 && at < len(email)-1 {
		return email[at+1:]
	}
	return "New organization"
}
