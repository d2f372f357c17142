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
	def(&l.NotificationBatchSize, 10)
	def(&l.NotificationBatchWaitMs, 200)
	if l.SendBlockSeconds <= 0 {
		l.SendBlockSeconds = 24 * 3600
	}
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
	inflight int
	requests []time.Time // within the request window
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

// sendPlan is what Exchange does with a submission: send it now, or at a
// later time when the mailbox is over its message rate, or refuse it
// with a non-delivery report (blocked) when the mailbox went past its
// recipients for the day.
type sendPlan struct {
	at      time.Time
	blocked bool
}

// sendUsage is what a mailbox has sent, for Exchange's sending limits,
// which hold per mailbox whatever app submits.
type sendUsage struct {
	transport    []time.Time // when each message went, or will go, ascending
	recipients   []sentRecipients
	blockedUntil time.Time
}

// blockedSenderReason is the NDR text of a submission refused because the
// mailbox is past its daily recipient limit (Exchange Online's 5.1.90).
const blockedSenderReason = "550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients."

// reserveSend applies Exchange's sending limits to a Graph submission of a
// message to n recipients. Graph never answers them with 429: a message
// over the rate is queued and goes when the rate allows; past the day's
// recipients the mailbox is blocked for SendBlockSeconds and every
// submission comes back as a non-delivery report. Each is counted per
// mailbox (graph.overLimit.*), so tests can prove nobody leaned on them.
// Only more recipients than a message may have is an error (400).
func (s *Service) reserveSend(p simcore.Person, n int) (sendPlan, *graphError) {
	now := s.clock.Now()
	s.limMu.Lock()
	defer s.limMu.Unlock()
	if n > s.limits.MaxRecipientsPerMessage {
		return sendPlan{}, badRequest("ErrorInvalidRecipients", fmt.Sprintf("The message has %d recipients; a message may have at most %d.", n, s.limits.MaxRecipientsPerMessage))
	}
	u := s.sending[p.ID]
	if u == nil {
		u = &sendUsage{}
		s.sending[p.ID] = u
	}
	overDay := func() (sendPlan, *graphError) {
		s.counters.Inc("graph.overLimit.recipientsPerDay", "graph.overLimit.recipientsPerDay/user="+p.UserPrincipalName)
		return sendPlan{blocked: true}, nil
	}
	if now.Before(u.blockedUntil) {
		return overDay()
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
	if total+n > s.limits.RecipientsPerDay {
		u.blockedUntil = now.Add(time.Duration(s.limits.SendBlockSeconds * float64(time.Second)))
		return overDay()
	}
	u.recipients = append(u.recipients, sentRecipients{at: now, n: n})
	u.transport = dropBefore(u.transport, now.Add(-time.Minute))
	at := now
	if rate := s.limits.MessagesPerMinute; len(u.transport) >= rate {
		// At most rate messages in any minute: this one waits for the
		// rate-th latest to be a minute old.
		if next := u.transport[len(u.transport)-rate].Add(time.Minute); next.After(at) {
			at = next
		}
	}
	if at.After(now) {
		s.counters.Inc("graph.overLimit.messagesPerMinute", "graph.overLimit.messagesPerMinute/user="+p.UserPrincipalName)
	}
	u.transport = append(u.transport, at)
	if !at.After(now) {
		return sendPlan{}, nil
	}
	return sendPlan{at: at}, nil
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
