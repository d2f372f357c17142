package store_test

import (
	"testing"
	"time"
)

// The durable record of ended sessions, which the revocation set in Redis
// only speeds up (issue 16, item 1).
func TestSessionEndedAndRevokedSince(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	now := time.Now().Truncate(time.Microsecond)
	live, err := st.CreateSession(ctx, org.ID, user.ID, hash("live"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	old, err := st.CreateSession(ctx, org.ID, user.ID, hash("old"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	recent, err := st.CreateSession(ctx, org.ID, user.ID, hash("recent"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeSession(ctx, org.ID, old.ID, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeSession(ctx, org.ID, recent.ID, now); err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]struct {
		id   string
		want bool
	}{
		"live":          {live.ID, false},
		"revoked":       {recent.ID, true},
		"unknown":       {"00000000-0000-0000-0000-000000000000", true},
		"not an id":     {"s1", true},
		"revoked early": {old.ID, true},
	} {
		ended, err := st.SessionEnded(ctx, c.id)
		if err != nil || ended != c.want {
			t.Errorf("%s: ended=%v err=%v, want %v", name, ended, err, c.want)
		}
	}

	got, err := st.SessionsRevokedSince(ctx, now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != recent.ID || !got[0].RevokedAt.Equal(now) {
		t.Fatalf("revoked in the last minute: %+v, want only %s at %v", got, recent.ID, now)
	}
}
