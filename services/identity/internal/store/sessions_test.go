package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func TestRotateSession(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	now := time.Now()
	sess, err := st.CreateSession(ctx, org.ID, user.ID, hash("r0"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	got, u, err := st.RotateSession(ctx, hash("r0"), hash("r1"), now, now.Add(2*time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sess.ID || u.ID != user.ID || !got.ExpiresAt.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("rotate: session %+v user %+v", got, u)
	}
	if _, _, err := st.RotateSession(ctx, hash("r1"), hash("r2"), now, now.Add(2*time.Hour), time.Time{}); err != nil {
		t.Fatalf("rotate the current token: %v", err)
	}
	_, _, err = st.RotateSession(ctx, hash("unknown"), hash("r9"), now, now.Add(time.Hour), time.Time{})
	wantErr(t, "an unknown token", err, postgres.ErrNotFound)

	// r0 and r1 were swapped out: presenting either again ends the session,
	// the older one too.
	reused, _, err := st.RotateSession(ctx, hash("r0"), hash("r3"), now, now.Add(2*time.Hour), time.Time{})
	wantErr(t, "reusing a token older than the previous one", err, store.ErrSessionReused)
	if reused.ID != sess.ID {
		t.Fatalf("reuse should name the session it ended: %q, want %q", reused.ID, sess.ID)
	}
	_, _, err = st.RotateSession(ctx, hash("r2"), hash("r4"), now, now.Add(2*time.Hour), time.Time{})
	wantErr(t, "the current token after a reuse", err, postgres.ErrNotFound)
	_, _, err = st.RotateSession(ctx, hash("r1"), hash("r5"), now, now.Add(2*time.Hour), time.Time{})
	wantErr(t, "the reused token again", err, postgres.ErrNotFound)
}

func TestRotateSession_RefusesEndedSessions(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, owner := person(t, st, tenant, "owner@x.example")
	_, user := person(t, st, tenant, "p@x.example")
	now := time.Now()

	if _, err := st.CreateSession(ctx, org.ID, owner.ID, hash("expired"), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err := st.RotateSession(ctx, hash("expired"), hash("x1"), now, now.Add(time.Hour), time.Time{})
	wantErr(t, "an expired session", err, postgres.ErrNotFound)

	s, err := st.CreateSession(ctx, org.ID, owner.ID, hash("revoked"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Another organization cannot end it.
	other, _ := person(t, st, newID(t), "q@y.example")
	if err := st.RevokeSession(ctx, other.ID, s.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RotateSession(ctx, hash("revoked"), hash("revoked2"), now, now.Add(time.Hour), time.Time{}); err != nil {
		t.Fatalf("another organization ended the session: %v", err)
	}
	if err := st.RevokeSession(ctx, org.ID, s.ID, now); err != nil {
		t.Fatal(err)
	}
	_, _, err = st.RotateSession(ctx, hash("revoked2"), hash("x2"), now, now.Add(time.Hour), time.Time{})
	wantErr(t, "a revoked session", err, postgres.ErrNotFound)
	wantErr(t, "revoking a malformed id", st.RevokeSession(ctx, org.ID, "nope", now), postgres.ErrNotFound)

	// Removing a user ends their sessions and says which.
	s1, err := st.CreateSession(ctx, org.ID, user.ID, hash("u1"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := st.CreateSession(ctx, org.ID, user.ID, hash("u2"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ended, err := removeUser(ctx, st, org.ID, user.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 2 || (ended[0] != s1.ID || ended[1] != s2.ID) && (ended[0] != s2.ID || ended[1] != s1.ID) {
		t.Fatalf("RemoveUser ended %v, want %s and %s", ended, s1.ID, s2.ID)
	}
	_, _, err = st.RotateSession(ctx, hash("u1"), hash("x3"), now, now.Add(time.Hour), time.Time{})
	wantErr(t, "a removed user's session", err, postgres.ErrNotFound)
}

func TestDeleteEndedSessions(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	now := time.Now()
	cutoff := now.Add(-24 * time.Hour)

	create := func(name string, expires time.Time) store.Session {
		t.Helper()
		s, err := st.CreateSession(ctx, org.ID, user.ID, hash(name), expires)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	longExpired := create("long-expired", cutoff.Add(-time.Hour))
	create("just-expired", now.Add(-time.Minute)) // ended after the cutoff: kept
	live := create("live", now.Add(time.Hour))
	revokedLongAgo := create("revoked-long-ago", now.Add(time.Hour))
	if err := st.RevokeSession(ctx, org.ID, revokedLongAgo.ID, cutoff.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	revokedNow := create("revoked-now", now.Add(time.Hour))
	if err := st.RevokeSession(ctx, org.ID, revokedNow.ID, now); err != nil {
		t.Fatal(err)
	}
	// The long-expired session had rotated: its retired token goes with it.
	if _, err := pool.Exec(ctx, `INSERT INTO retired_refresh_tokens (token_hash, session_id, successor_hash, retired_at) VALUES ($1, $2, $3, $4)`,
		hash("long-expired-0"), longExpired.ID, hash("long-expired"), cutoff.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RotateSession(ctx, hash("live"), hash("live-1"), now, now.Add(time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}

	// A limit of one deletes one; the next call the other.
	for i, want := range []int64{1, 1, 0} {
		n, err := st.DeleteEndedSessions(ctx, cutoff, 1)
		if err != nil || n != want {
			t.Fatalf("call %d: deleted %d, %v; want %d", i, n, err, want)
		}
	}
	ids := func(sql string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	left := ids(`SELECT id::text FROM sessions ORDER BY created_at`)
	if len(left) != 3 || slices.Contains(left, longExpired.ID) || slices.Contains(left, revokedLongAgo.ID) {
		t.Fatalf("sessions left %v, want the three ended after the cutoff or live", left)
	}
	retired := ids(`SELECT session_id::text FROM retired_refresh_tokens`)
	if len(retired) != 1 || retired[0] != live.ID {
		t.Fatalf("retired tokens of sessions %v, want only the live session's", retired)
	}
}

func TestRotateSessionRetry(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	now := time.Now()
	window := now.Add(-30 * time.Second)

	// session starts a session under name+"0" and rotates it to name+"1".
	session := func(name string) store.Session {
		t.Helper()
		s, err := st.CreateSession(ctx, org.ID, user.ID, hash(name+"0"), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.RotateSession(ctx, hash(name+"0"), hash(name+"1"), now, now.Add(time.Hour), window); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// The same rotation asked again within the window: a retry, nothing
	// changes and the session lives on.
	s := session("a")
	got, u, err := st.RotateSession(ctx, hash("a0"), hash("a1"), now.Add(time.Second), now.Add(2*time.Hour), window)
	wantErr(t, "the same rotation again", err, store.ErrRefreshRetry)
	if got.ID != s.ID || u.ID != user.ID {
		t.Fatalf("a retry names session %q user %q, want %q %q", got.ID, u.ID, s.ID, user.ID)
	}
	if _, _, err := st.RotateSession(ctx, hash("a1"), hash("a2"), now, now.Add(time.Hour), window); err != nil {
		t.Fatalf("the successor after a retry: %v", err)
	}

	for _, c := range []struct {
		what  string
		name  string
		setup func()
		next  string
		since time.Time
	}{
		{what: "another successor", name: "b", next: "bX", since: window},
		{what: "outside the window", name: "c", next: "c1", since: now.Add(time.Second)},
		{what: "no window", name: "d", next: "d1"},
		{what: "a successor already rotated", name: "e", next: "e1", since: window, setup: func() {
			if _, _, err := st.RotateSession(ctx, hash("e1"), hash("e2"), now, now.Add(time.Hour), window); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		session(c.name)
		if c.setup != nil {
			c.setup()
		}
		_, _, err := st.RotateSession(ctx, hash(c.name+"0"), hash(c.next), now.Add(time.Second), now.Add(time.Hour), c.since)
		wantErr(t, c.what, err, store.ErrSessionReused)
		// The reuse ended the session: its current token no longer works.
		cur := c.name + "1"
		if c.name == "e" {
			cur = "e2"
		}
		_, _, err = st.RotateSession(ctx, hash(cur), hash(c.name+"9"), now, now.Add(time.Hour), window)
		wantErr(t, c.what+": the current token afterwards", err, postgres.ErrNotFound)
	}
}
