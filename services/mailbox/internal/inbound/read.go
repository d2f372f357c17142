package inbound

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/match"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Pages of inbound messages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	// MaxCheckedAddresses is the most addresses one CheckRecipients asks.
	MaxCheckedAddresses = 500
)

// ErrMailboxNotFound is a mailbox that is not there or not the caller's to
// read.
var ErrMailboxNotFound = apperr.NotFound("mailbox")

// Readers are what the read side needs of the registry.
type Readers interface {
	// Get returns a mailbox the caller may see (their own, any of the
	// organization's for an admin); another's is not found.
	Get(ctx context.Context, caller authz.Principal, id string) (store.Mailbox, error)
}

// Reader answers questions about inbound mail.
type Reader struct {
	store   *Store
	reg     Readers
	cursors CursorStore
}

// NewReader returns the read side.
func NewReader(st *Store, reg Readers, cursors CursorStore) *Reader {
	return &Reader{store: st, reg: reg, cursors: cursors}
}

// mailbox resolves the mailbox a read is about: the caller's own when id
// is empty.
func (r *Reader) mailbox(ctx context.Context, caller authz.Principal, id string) (store.Mailbox, error) {
	if id == "" {
		own, err := r.store.MailboxOfUser(ctx, caller.OrgID, caller.UserID)
		if errors.Is(err, postgres.ErrNotFound) {
			return store.Mailbox{}, ErrMailboxNotFound
		}
		if err != nil {
			return store.Mailbox{}, err
		}
		id = own
	}
	if _, err := uuid.Parse(id); err != nil {
		return store.Mailbox{}, ErrMailboxNotFound
	}
	m, err := r.reg.Get(ctx, caller, id)
	if errors.Is(err, postgres.ErrNotFound) || errors.Is(err, apperr.ErrNotFound) {
		return store.Mailbox{}, ErrMailboxNotFound
	}
	return m, err
}

// List returns a page of a mailbox's inbound messages, newest first.
func (r *Reader) List(ctx context.Context, caller authz.Principal, mailboxID string, pageSize int, pageToken string) ([]Record, string, error) {
	if pageSize < 0 || pageSize > MaxPageSize {
		return nil, "", apperr.InvalidArgument("page_size", fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	pos, err := decodePosition(pageToken)
	if err != nil {
		return nil, "", err
	}
	m, err := r.mailbox(ctx, caller, mailboxID)
	if err != nil {
		return nil, "", err
	}
	list, err := r.store.List(ctx, m.OrgID, m.ID, pos, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > pageSize {
		list = list[:pageSize]
		last := list[len(list)-1]
		next = encodePosition(Position{ReceivedAt: last.ReceivedAt, ID: last.ID})
	}
	return list, next, nil
}

// SyncState is a mailbox's subscription and catch-up state.
type SyncState struct {
	MailboxID          string
	SubscriptionStatus string
	SubscriptionExpiry *time.Time
	LastCatchUpAt      *time.Time
	HasCursor          bool
	InboundMessages    int64
}

// State returns the sync state of a mailbox the caller may see.
func (r *Reader) State(ctx context.Context, caller authz.Principal, mailboxID string) (SyncState, error) {
	m, err := r.mailbox(ctx, caller, mailboxID)
	if err != nil {
		return SyncState{}, err
	}
	return r.Sync(ctx, m.ID)
}

// Sync returns a mailbox's sync state, for a caller already allowed to see
// the mailbox (its health).
func (r *Reader) Sync(ctx context.Context, mailboxID string) (SyncState, error) {
	st := SyncState{MailboxID: mailboxID}
	status, expires, caught, err := r.store.Subscription(ctx, mailboxID)
	switch {
	case errors.Is(err, postgres.ErrNotFound):
	case err != nil:
		return SyncState{}, err
	default:
		st.SubscriptionStatus, st.SubscriptionExpiry, st.LastCatchUpAt = status, expires, caught
	}
	if _, st.HasCursor, err = r.cursors.Get(ctx, mailboxID); err != nil {
		return SyncState{}, err
	}
	if st.InboundMessages, err = r.store.Count(ctx, mailboxID); err != nil {
		return SyncState{}, err
	}
	return st, nil
}

// CheckRecipients returns which addresses the organization may no longer
// write to. It is the send pipeline's and outreach's check before a
// message to them is queued.
func (r *Reader) CheckRecipients(ctx context.Context, orgID string, addresses []string) ([]Undeliverable, error) {
	if _, err := uuid.Parse(orgID); err != nil {
		return nil, apperr.InvalidArgument("organization_id", "must be an organization id")
	}
	if len(addresses) == 0 || len(addresses) > MaxCheckedAddresses {
		return nil, apperr.InvalidArgument("addresses", fmt.Sprintf("must hold 1 to %d addresses", MaxCheckedAddresses))
	}
	norm := make([]string, 0, len(addresses))
	for i, a := range addresses {
		n := match.Address(a)
		if n == "" {
			return nil, apperr.InvalidArgument(fmt.Sprintf("addresses[%d]", i), "is not an e-mail address")
		}
		norm = append(norm, n)
	}
	return r.store.Undeliverable(ctx, orgID, norm)
}

// A page token is the last message's received time and id, opaque.
func encodePosition(p Position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.ReceivedAt.UnixMicro(), 10) + "|" + p.ID))
}

func decodePosition(tok string) (Position, error) {
	if tok == "" {
		return Position{}, nil
	}
	bad := apperr.InvalidArgument("page_token", "not a page token of this list")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Position{}, bad
	}
	at, id, ok := strings.Cut(string(raw), "|")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return Position{}, bad
	}
	if _, err := uuid.Parse(id); err != nil {
		return Position{}, bad
	}
	return Position{ReceivedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}
