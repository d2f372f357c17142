package mailboxes_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/migrations"
)

const (
	org  = "00000000-0000-4000-8000-0000000000a1"
	user = "00000000-0000-4000-8000-0000000000c3"
	conn = "00000000-0000-4000-8000-00000000d001"
)

// jobs records what the registry enqueues.
type jobs struct{ kinds []string }

func (j *jobs) InsertTx(_ context.Context, _ pgx.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	j.kinds = append(j.kinds, args.Kind())
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: int64(len(j.kinds))}}, nil
}

func newRegistry(t *testing.T) (*mailboxes.Registry, *store.Store, *pgxpool.Pool, *jobs) {
	t.Helper()
	pool, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.NewDatabase(t), Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(t.Context(), pool, "mailbox", migrations.FS, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	j := &jobs{}
	return mailboxes.New(st, j, mailboxes.Settings{MinGap: 3 * time.Second}, nil), st, pool, j
}

func event(t *testing.T, typ string, status identityv1.ConnectionStatus, at time.Time) *eventsv1.Event {
	t.Helper()
	payload, err := anypb.New(&identityv1.MailboxConnectionChanged{ConnectionId: conn, UserId: user, Account: "adele@contoso.example",
		Status: status, Reason: "because", ChangeTime: timestamppb.New(at)})
	if err != nil {
		t.Fatal(err)
	}
	return &eventsv1.Event{Type: typ, OrganizationId: org, AggregateId: conn, Payload: payload}
}

func apply(t *testing.T, r *mailboxes.Registry, pool *pgxpool.Pool, ev *eventsv1.Event) {
	t.Helper()
	if err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error { return r.ApplyConnectionChanged(t.Context(), tx, ev) }); err != nil {
		t.Fatal(err)
	}
}

func TestTheNewestStatusWinsAndAConnectionReleasesTheQueue(t *testing.T) {
	t.Parallel()
	r, st, pool, j := newRegistry(t)
	released := 0
	r.OnConnected(func(context.Context, pgx.Tx, store.Mailbox) error { released++; return nil })
	t0 := time.Now()
	apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, t0))
	apply(t, r, pool, event(t, mailboxes.EventReconnectRequired, identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED, t0.Add(2*time.Second)))
	// An older connected arriving late changes nothing.
	apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, t0.Add(time.Second)))
	m, err := st.MailboxByID(t.Context(), conn)
	if err != nil || m.Status != store.StatusReconnectRequired || m.DailyMessageLimit != mailboxes.DefaultDailyMessageLimit || m.MinGap != 3*time.Second {
		t.Fatalf("mailbox %+v, %v", m, err)
	}
	apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, t0.Add(3*time.Second)))
	if m, err := st.MailboxByID(t.Context(), conn); err != nil || m.Status != store.StatusConnected {
		t.Errorf("after reconnecting: %s, %v", m.Status, err)
	}
	if released != 2 || len(j.kinds) != 2 || j.kinds[0] != mailboxes.FetchAddressesKind {
		t.Errorf("released %d times, jobs %v", released, j.kinds)
	}
	// The owner and admins see it; another member and another organization do not.
	for _, c := range []struct {
		who  authz.Principal
		seen bool
	}{
		{authz.Principal{OrgID: org, UserID: user, Role: authz.RoleRecruiter}, true},
		{authz.Principal{OrgID: org, UserID: "someone", Role: authz.RoleAdmin}, true},
		{authz.Principal{OrgID: org, UserID: "someone", Role: authz.RoleRecruiter}, false},
		{authz.Principal{OrgID: "00000000-0000-4000-8000-0000000000b2", UserID: user, Role: authz.RoleSuperAdmin}, false},
	} {
		if _, err := r.Get(t.Context(), c.who, conn); (err == nil) != c.seen {
			t.Errorf("%+v: %v", c.who, err)
		}
	}
}

func TestAMismatchedEventIsRefused(t *testing.T) {
	t.Parallel()
	r, _, pool, _ := newRegistry(t)
	ev := event(t, mailboxes.EventDisconnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, time.Now())
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error { return r.ApplyConnectionChanged(t.Context(), tx, ev) })
	if err == nil {
		t.Error("a disconnected event saying connected was applied")
	}
}

func TestTheOrganizationsMailboxesArePaged(t *testing.T) {
	t.Parallel()
	r, _, pool, _ := newRegistry(t)
	ids := []string{"00000000-0000-4000-8000-00000000e001", "00000000-0000-4000-8000-00000000e002", "00000000-0000-4000-8000-00000000e003"}
	for _, id := range ids {
		payload, err := anypb.New(&identityv1.MailboxConnectionChanged{ConnectionId: id, UserId: user,
			Status: identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, ChangeTime: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		apply(t, r, pool, &eventsv1.Event{Type: mailboxes.EventConnected, OrganizationId: org, AggregateId: id, Payload: payload})
	}
	page, next, err := r.List(t.Context(), org, 2, "")
	if err != nil || len(page) != 2 || next == "" || page[0].ID != ids[0] {
		t.Fatalf("first page: %d %q %v", len(page), next, err)
	}
	page, next, err = r.List(t.Context(), org, 2, next)
	if err != nil || len(page) != 1 || next != "" || page[0].ID != ids[2] {
		t.Fatalf("second page: %d %q %v", len(page), next, err)
	}
	if page, _, err := r.List(t.Context(), "00000000-0000-4000-8000-0000000000b2", 2, ""); err != nil || len(page) != 0 {
		t.Errorf("another organization: %d, %v", len(page), err)
	}
}
