package graph

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// defaultRetryDelaysMs spread notification retries over about four hours, as
// Graph's do.
var defaultRetryDelaysMs = []int{
	10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
	1_800_000, 3_600_000, 3_600_000, 3_600_000,
}

func withDefaults(l simclient.GraphLimits) simclient.GraphLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ConcurrentRequests, 4)
	def(&l.RequestsPerWindow, 10_000)
	def(&l.MessagesPerMinute, 30)
	def(&l.RecipientsPerDay, 10_000)
	def(&l.MaxRecipientsPerMessage, 500)
	def(&l.ValidationTimeoutMs, 10_000)
	def(&l.NotificationTimeoutMs, 3_000)
	def(&l.DefaultPageSize, 10)
	if l.RequestWindowSeconds <= 0 {
		l.RequestWindowSeconds = 600
	}
	if l.ConcurrencyRetryAfter <= 0 {
		l.ConcurrencyRetryAfter = 1
	}
	if len(l.NotificationRetryDelaysMs) == 0 {
		l.NotificationRetryDelaysMs = slices.Clone(defaultRetryDelaysMs)
	}
	return l
}

// Limits returns the limits in force.
func (s *Service) Limits() simclient.GraphLimits {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l := s.limits
	l.NotificationRetryDelaysMs = slices.Clone(l.NotificationRetryDelaysMs)
	return l
}

// SetLimits replaces the limits; zero fields take the default.
func (s *Service) SetLimits(l simclient.GraphLimits) (simclient.GraphLimits, error) {
	for _, d := range l.NotificationRetryDelaysMs {
		if d < 0 {
			return simclient.GraphLimits{}, fmt.Errorf("%w: negative retry delay", simcore.ErrInvalid)
		}
	}
	l = withDefaults(l)
	s.limMu.Lock()
	s.limits = l
	s.limMu.Unlock()
	return s.Limits(), nil
}

// usage is what one app has done with one mailbox, for throttling.
type usage struct {
	inflight   int
	requests   []time.Time // within the request window
	sends      []time.Time // within the last minute
	recipients []sentRecipients
}

type sentRecipients struct {
	at time.Time
	n  int
}

func (s *Service) usageLocked(key string) *usage {
	u := s.usage[key]
	if u == nil {
		u = &usage{}
		s.usage[key] = u
	}
	return u
}

// admit applies the concurrency and request-rate limits of a mailbox (key is
// app and mailbox; label names them in the in-flight gauge). The returned
// release must be called when the request ends.
func (s *Service) admit(key, label string) (func(), *graphError) {
	now := s.clock.Now()
	s.limMu.Lock()
	defer s.limMu.Unlock()
	u := s.usageLocked(key)
	if u.inflight >= s.limits.ConcurrentRequests {
		e := gerr(http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		e.retryAfter = simcore.FormatSeconds(time.Duration(s.limits.ConcurrencyRetryAfter * float64(time.Second)))
		return nil, e
	}
	window := time.Duration(s.limits.RequestWindowSeconds * float64(time.Second))
	u.requests = dropBefore(u.requests, now.Add(-window))
	if len(u.requests) >= s.limits.RequestsPerWindow {
		e := tooMany()
		e.retryAfter = simcore.FormatSeconds(u.requests[0].Add(window).Sub(now))
		return nil, e
	}
	u.requests = append(u.requests, now)
	u.inflight++
	s.counters.Add("graph.inflight/"+label, 1)
	return func() {
		s.limMu.Lock()
		u.inflight--
		s.limMu.Unlock()
		s.counters.Add("graph.inflight/"+label, -1)
	}, nil
}

func tooMany() *graphError {
	return gerr(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
}

// reserveSend applies Exchange's sending limits (messages per minute,
// recipients per rolling day) and, when the message may go, counts it.
func (s *Service) reserveSend(key string, recipients int) *graphError {
	now := s.clock.Now()
	s.limMu.Lock()
	defer s.limMu.Unlock()
	u := s.usageLocked(key)
	if recipients > s.limits.MaxRecipientsPerMessage {
		return badRequest("ErrorInvalidRecipients", fmt.Sprintf("The message has %d recipients; a message may have at most %d.", recipients, s.limits.MaxRecipientsPerMessage))
	}
	u.sends = dropBefore(u.sends, now.Add(-time.Minute))
	if len(u.sends) >= s.limits.MessagesPerMinute {
		e := tooMany()
		e.message = "Please retry again later. The mailbox has reached its limit of messages per minute."
		e.retryAfter = simcore.FormatSeconds(u.sends[0].Add(time.Minute).Sub(now))
		return e
	}
	day := now.Add(-24 * time.Hour)
	i := 0
	for i < len(u.recipients) && !u.recipients[i].at.After(day) {
		i++
	}
	u.recipients = u.recipients[i:]
	total := 0
	for _, r := range u.recipients {
		total += r.n
	}
	if total+recipients > s.limits.RecipientsPerDay {
		// Retry when enough of the day's recipients have aged out.
		free, wait := s.limits.RecipientsPerDay-total, time.Duration(0)
		for _, r := range u.recipients {
			free += r.n
			wait = r.at.Add(24 * time.Hour).Sub(now)
			if free >= recipients {
				break
			}
		}
		e := tooMany()
		e.message = "Please retry again later. The mailbox has reached its limit of recipients per day."
		e.retryAfter = simcore.FormatSeconds(wait)
		return e
	}
	u.sends = append(u.sends, now)
	u.recipients = append(u.recipients, sentRecipients{at: now, n: recipients})
	return nil
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}

// SetLimitsFrom is SetLimits for start-up and reset.
func (s *Service) SetLimitsFrom(l simclient.GraphLimits) error {
	_, err := s.SetLimits(l)
	return err
}
