// Package login redeems the one-time code a browser brings back from an
// OAuth flow: it says how the flow ended, who signed in, and, when they
// did, opens their session.
package login

import (
	"context"
	"errors"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"

	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Codes takes one-time login codes.
type Codes interface {
	TakeLoginCode(ctx context.Context, code, verifier string) (signin.LoginResult, error)
}

// Store is what login needs of the identity store.
type Store interface {
	User(ctx context.Context, orgID, userID string) (store.User, error)
	Organization(ctx context.Context, orgID string) (store.Organization, error)
	Connection(ctx context.Context, orgID, id string) (store.Connection, error)
}

// SessionIssuer opens a session for a user.
type SessionIssuer interface {
	Issue(ctx context.Context, u store.User) (sessions.Issued, error)
}

// Exchange redeems login codes.
type Exchange struct {
	codes    Codes
	store    Store
	sessions SessionIssuer
}

// New returns the exchange.
func New(codes Codes, st Store, sessions SessionIssuer) *Exchange {
	return &Exchange{codes: codes, store: st, sessions: sessions}
}

// Result is what a redeemed code stands for. User and Organization are set
// when the flow knows who it was for, Session when they signed in (or an
// admin confirmed a consent by signing in), Connection when a connection
// changed.
type Result struct {
	Outcome         string
	Message         string
	AdminConsentURL string
	User            *store.User
	Organization    *store.Organization
	Session         *sessions.Issued
	Connection      *store.Connection
}

// Redeem takes the code, once, from the browser that proves it started the
// flow (verifier: the frontend's code verifier, or the gateway's proof of
// the binding cookie).
func (e *Exchange) Redeem(ctx context.Context, code, verifier string) (Result, error) {
	res, err := e.codes.TakeLoginCode(ctx, code, verifier)
	if err != nil {
		return Result{}, err
	}
	out := Result{Outcome: res.Outcome, Message: res.Message, AdminConsentURL: res.AdminConsentURL}
	if res.UserID != "" {
		user, err := e.store.User(ctx, res.OrgID, res.UserID)
		if err != nil {
			return Result{}, gone(err, "user")
		}
		org, err := e.store.Organization(ctx, res.OrgID)
		if err != nil {
			return Result{}, gone(err, "organization")
		}
		out.User, out.Organization = &user, &org
		if res.Outcome == signin.OutcomeSignedIn || res.Outcome == signin.OutcomeAdminConsentGranted {
			issued, err := e.sessions.Issue(ctx, user)
			if err != nil {
				return Result{}, err
			}
			out.Session = &issued
		}
	}
	if res.ConnectionID != "" {
		c, err := e.store.Connection(ctx, res.OrgID, res.ConnectionID)
		if err != nil {
			return Result{}, gone(err, "connection")
		}
		out.Connection = &c
	}
	return out, nil
}

// gone names what vanished between the flow's end and the code's
// redemption (a user removed in between, say).
func gone(err error, what string) error {
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.NotFound(what).Wrap(err)
	}
	return err
}
