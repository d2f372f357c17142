package providerhttp

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 120 * time.Second, true},
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{"2.128", 2128 * time.Millisecond, true}, // Graph's own sample
		{"0.5", 500 * time.Millisecond, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999", 365 * 24 * time.Hour, true}, // clamped, no overflow
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},     // in the past: now
		{"Sunday, 01-Mar-26 12:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second, true},        // ANSI C
		{"", 0, false},
		{"-1", 0, false},
		{"-0.5", 0, false},
		{"+5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"Inf", 0, false},
		{"NaN", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1.2.3", 0, false},
		{"soon", 0, false},
		{"Sun, 32 Mar 2026 12:00:00 GMT", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestBackoffCapsAndJitterBounds(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second}
	ceilings := []time.Duration{100, 200, 400, 800, 1600, 2000, 2000}
	highest := func(n int64) int64 { return n - 1 }
	lowest := func(int64) int64 { return 0 }
	for retry, c := range ceilings {
		c *= time.Millisecond
		if got := b.Delay(retry, highest); got != c-1 {
			t.Errorf("retry %d: highest delay %s, want just under %s", retry, got, c)
		}
		if got := b.Delay(retry, lowest); got != 0 {
			t.Errorf("retry %d: lowest delay %s, want 0 (full jitter)", retry, got)
		}
		for range 200 {
			if got := b.Delay(retry, rand.Int64N); got < 0 || got >= c {
				t.Fatalf("retry %d: delay %s outside [0, %s)", retry, got, c)
			}
		}
	}
	// Far past the cap the shift would overflow; it must stay capped.
	for _, retry := range []int{40, 62, 63, 64, 1000} {
		if got := b.Delay(retry, highest); got != b.Cap-1 {
			t.Errorf("retry %d: %s, want capped at %s", retry, got, b.Cap)
		}
	}
	if got := (Backoff{Base: time.Minute, Cap: time.Second}).Delay(0, highest); got != time.Second-1 {
		t.Errorf("base above cap: %s", got)
	}
	if got := (Backoff{}).Delay(3, highest); got != 0 {
		t.Errorf("zero backoff: %s", got)
	}
}
