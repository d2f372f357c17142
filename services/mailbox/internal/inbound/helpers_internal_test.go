package inbound

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
)

func TestBouncedRecipient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reported, sentTo []string
		want             string
	}{
		{[]string{"jo@x.org"}, []string{"jo@x.org", "sam@x.org"}, "jo@x.org"},
		{[]string{"other@y.org", "sam@x.org"}, []string{"jo@x.org", "sam@x.org"}, "sam@x.org"},
		{nil, []string{"jo@x.org"}, "jo@x.org"},             // the report names nobody: the only recipient
		{nil, []string{"jo@x.org", "sam@x.org"}, ""},        // several: nobody is guessed
		{[]string{"other@y.org"}, []string{"jo@x.org"}, ""}, // not one Tandem wrote to
		{[]string{"jo@x.org"}, nil, "jo@x.org"},             // nothing matched: the report says
	} {
		if got := bouncedRecipient(tc.reported, tc.sentTo); got != tc.want {
			t.Errorf("bouncedRecipient(%q, %q) = %q, want %q", tc.reported, tc.sentTo, got, tc.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	if got := snippet("", "", htmlText("<html><style>p{}</style><p>Hi&nbsp;there,</p><div>call&amp;me</div></html>")); got != "Hi\u00a0there, call&me" {
		t.Errorf("html snippet %q", got)
	}
	if got := snippet("  Only this  ", "preview", "body"); got != "Only this" {
		t.Errorf("unique body first: %q", got)
	}
	if got := snippet(" ", "the preview", "body"); got != "the preview" {
		t.Errorf("then the preview: %q", got)
	}
	long := strings.Repeat("é", snippetLen)
	if got := snippet(long, "", ""); len(got) > snippetLen || !strings.HasPrefix(long, got) {
		t.Errorf("cut %d bytes, or inside a rune", len(got))
	}
}

func TestPageTokens(t *testing.T) {
	t.Parallel()
	p := Position{ReceivedAt: time.Date(2026, 12, 1, 9, 0, 0, 123456000, time.UTC), ID: "0190a000-0000-7000-8000-000000000009"}
	got, err := decodePosition(encodePosition(p))
	if err != nil || !got.ReceivedAt.Equal(p.ReceivedAt) || got.ID != p.ID {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"x", "bm90LWEtdG9rZW4", encodePosition(Position{ID: "not-a-uuid"})} {
		if _, err := decodePosition(bad); !errors.Is(err, apperr.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestRetryLater(t *testing.T) {
	t.Parallel()
	var snooze *river.JobSnoozeError
	if err := retryLater(&graph.Error{Kind: graph.Throttled, RetryAfter: 3 * time.Second}); !errors.As(err, &snooze) || snooze.Duration != 3*time.Second {
		t.Errorf("throttled: %v", err)
	}
	if err := retryLater(ErrAddressesUnknown); !errors.Is(err, ErrAddressesUnknown) || errors.As(err, &snooze) {
		t.Errorf("addresses unknown: %v, want River's retry", err)
	}
	boom := errors.New("boom")
	if err := retryLater(boom); !errors.Is(err, boom) {
		t.Errorf("other: %v", err)
	}
	if err := retryLater(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
}
