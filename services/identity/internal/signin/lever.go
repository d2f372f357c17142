package signin

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// LeverScopes are what Tandem asks of a Lever account (providers.md §2.1):
// offline access for refresh tokens; writes of opportunities and notes
// (a write scope includes read); files for resumes; webhooks to manage
// its own; reads of the pipeline, postings, users (recruiters map to them
// by e-mail), archive reasons, sources, tags and contacts.
var LeverScopes = []string{
	"offline_access",
	"opportunities:write:admin",
	"notes:write:admin",
	"files:write:admin",
	"webhooks:write:admin",
	"stages:read:admin",
	"postings:read:admin",
	"users:read:admin",
	"archive_reasons:read:admin",
	"sources:read:admin",
	"tags:read:admin",
	"contact:read:admin",
}

// LeverConfig says where Lever's authorization server is.
type LeverConfig struct {
	// AuthorizeURL is Lever's /authorize (https://auth.lever.co/authorize).
	AuthorizeURL string
	ClientID     string
	// Audience is the API identifier, trailing slash included.
	Audience string
}

// LeverRedirectURI is Lever's callback: distinct from Microsoft's, one per
// authorization server (DESIGN §4).
func (c Config) LeverRedirectURI() string { return c.PublicURL + "/oauth/lever/callback" }

// LeverExchanger redeems a Lever authorization code with its PKCE
// verifier.
type LeverExchanger interface {
	ExchangeLeverCode(ctx context.Context, code, redirectURI, verifier string) (Tokens, error)
}

// authorizeLever stores the flow's state and returns Lever's authorize
// URL: PKCE S256, the audience Lever requires, and prompt=consent so the
// Super Admin sees what is granted.
func (f *Flows) authorizeLever(ctx context.Context, state string, st flowState) (string, error) {
	if f.lever == nil || f.cfg.Lever.AuthorizeURL == "" {
		return "", apperr.FailedPrecondition("lever_not_configured", "connecting Lever is not configured on this deployment")
	}
	st.Verifier = oauth2.GenerateVerifier()
	if err := f.put(ctx, "state", state, st, stateTTL); err != nil {
		return "", err
	}
	c := oauth2.Config{
		ClientID:    f.cfg.Lever.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: f.cfg.Lever.AuthorizeURL},
		RedirectURL: f.cfg.LeverRedirectURI(),
		Scopes:      LeverScopes,
	}
	return c.AuthCodeURL(state, oauth2.S256ChallengeOption(st.Verifier),
		oauth2.SetAuthURLParam("audience", f.cfg.Lever.Audience),
		oauth2.SetAuthURLParam("prompt", "consent")), nil
}

// completeLever finishes a Lever flow whose state and browser were
// checked: the code is redeemed, the tokens sealed in the vault, and the
// organization's Lever connection recorded connected (which tells
// atsbridge). A refusal at Lever changes nothing: a connection that worked
// keeps working.
func (f *Flows) completeLever(ctx context.Context, st flowState, r CompleteRequest) (string, error) {
	base := LoginResult{OrgID: st.OrgID, UserID: st.UserID}
	if r.Error != "" {
		res := base
		res.Outcome, res.Message = OutcomeFailed, "Lever could not complete the connection; please try again."
		if r.Error == "access_denied" {
			res.Outcome, res.Message = OutcomeDeclined, "Lever access was not granted. Only a Super Admin of your Lever account can connect it."
		}
		f.log.InfoContext(ctx, "lever authorization ended with an error", slog.String("error", r.Error), slog.String("outcome", res.Outcome))
		return f.finish(ctx, st, res)
	}
	if r.Code == "" {
		return "", apperr.InvalidArgument("code", "is required")
	}
	// The role is checked again: it may have changed since the start.
	u, err := f.store.User(ctx, st.OrgID, st.UserID)
	if err != nil {
		return "", err
	}
	if u.Role != authz.RoleSuperAdmin {
		res := base
		res.Outcome, res.Message = OutcomeFailed, "Only a Super Admin can connect Lever."
		return f.finish(ctx, st, res)
	}
	tokens, err := f.lever.ExchangeLeverCode(ctx, r.Code, f.cfg.LeverRedirectURI(), st.Verifier)
	if err != nil {
		f.log.WarnContext(ctx, "lever code exchange failed", slog.Any("error", err))
		res := base
		res.Outcome, res.Message = OutcomeFailed, "Lever did not accept the connection; please try again."
		return f.finish(ctx, st, res)
	}
	if tokens.RefreshToken == "" {
		res := base
		res.Outcome, res.Message = OutcomeFailed, "Lever granted no offline access; please try again."
		return f.finish(ctx, st, res)
	}
	tokens.Provider = store.ProviderLever
	// The record first (its id binds the sealed tokens), then the tokens,
	// then the status that says they are there.
	conn, err := f.store.OrgConnection(ctx, st.OrgID, store.ProviderLever)
	if errors.Is(err, postgres.ErrNotFound) {
		conn, err = f.store.UpsertOrgConnection(ctx, store.Connection{OrgID: st.OrgID, Provider: store.ProviderLever,
			Status: store.StatusReconnectRequired, Reason: "connecting"})
	}
	if err != nil {
		return "", err
	}
	if err := f.vault.Put(ctx, st.OrgID, conn.ID, tokens); err != nil {
		if serr := f.store.SetConnectionStatus(ctx, st.OrgID, conn.ID, store.StatusReconnectRequired, "the credentials could not be stored; connect again"); serr != nil {
			f.log.ErrorContext(ctx, "record failed connection", slog.Any("error", serr))
		}
		return "", err
	}
	now := f.now()
	conn, err = f.store.UpsertOrgConnection(ctx, store.Connection{OrgID: st.OrgID, Provider: store.ProviderLever,
		Status: store.StatusConnected, Scopes: tokens.Scopes, RefreshedAt: &now})
	if err != nil {
		return "", err
	}
	f.log.InfoContext(ctx, "lever connected", slog.String("org_id", st.OrgID), slog.String("connection_id", conn.ID),
		slog.String("scopes", strings.Join(tokens.Scopes, " ")))
	res := base
	res.Outcome, res.Message, res.ConnectionID = OutcomeLeverConnected, "Lever is connected.", conn.ID
	return f.finish(ctx, st, res)
}
