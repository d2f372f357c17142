package providerhttp

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds bounds a parsed Retry-After so the conversion to a
// Duration cannot overflow. Anything this long is beyond any sensible
// MaxRetryAfter and becomes a RetryAfterError anyway.
const maxRetryAfterSeconds = 365 * 24 * 60 * 60

// ParseRetryAfter reads a Retry-After header value: whole seconds ("120"),
// fractional seconds ("2.128", which Microsoft Graph sends), or an HTTP
// date, taken relative to now. A date in the past means "now" (0). It
// reports false for an absent, negative or unreadable value, in which case
// the caller backs off on its own schedule.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if isDecimal(value) {
		secs, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, false
		}
		secs = min(secs, maxRetryAfterSeconds)
		// Round up: waiting a nanosecond too long is harmless, too short
		// is not.
		return time.Duration(math.Ceil(secs * float64(time.Second))), true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(d, maxRetryAfterSeconds*time.Second), true
}

// isDecimal accepts digits with at most one decimal point between digits.
// ParseFloat alone would also take "-1", "+5", "1e3", "Inf" and "0x10",
// none of which is a delay-seconds value.
func isDecimal(s string) bool {
	digits, dot := 0, -1
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return false
		}
	}
	return digits > 0
}

// Backoff is capped exponential backoff with full jitter: retry n (from 0)
// waits a uniformly random time in [0, min(Cap, Base*2^n)). Full jitter
// spreads clients that failed together across the whole interval, so they
// do not come back together.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// Delay is the wait before retry n (0 for the first retry). jitter(k)
// returns a random integer in [0, k), e.g. math/rand/v2.Int64N.
func (b Backoff) Delay(retry int, jitter func(int64) int64) time.Duration {
	ceiling := b.ceiling(retry)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(jitter(int64(ceiling)))
}

func (b Backoff) ceiling(retry int) time.Duration {
	if b.Base <= 0 || b.Cap <= 0 {
		return 0
	}
	if b.Base >= b.Cap || retry >= 62 || b.Base > b.Cap>>uint(retry) {
		return b.Cap
	}
	return b.Base << uint(retry)
}
