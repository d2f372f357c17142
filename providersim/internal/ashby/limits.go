package ashby

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func withDefaults(in simclient.AshbySettings) simclient.AshbySettings {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	// UNCONFIRMED: Ashby publishes no limit for most endpoints; "a few
	// requests a second" per key, as third parties describe fair use.
	def(&in.RequestsPerSecond, 5)
	defInt(&in.Burst, 10)
	defInt(&in.ReportsPerMinute, 15)
	defInt(&in.ReportConcurrency, 3)
	// UNCONFIRMED: how long sync tokens and cursors live.
	def(&in.SyncTokenTTLSeconds, 30*24*3600)
	def(&in.CursorTTLSeconds, 3600)
	// UNCONFIRMED: the page cap of an incremental round (changelog
	// 2026-05-14 gives no number).
	defInt(&in.MaxIncrementalPages, 100)
	def(&in.WebhookRetryBaseSeconds, 10)
	defInt(&in.WebhookMaxAttempts, 10)
	defInt(&in.WebhookTimeoutMs, 10_000)
	if in.WebhookActionIDPlacement != "data" {
		in.WebhookActionIDPlacement = "top" // UNCONFIRMED where the field sits
	}
	if in.SubmitOnAPICreate != "true" {
		in.SubmitOnAPICreate = "false" // UNCONFIRMED whether API creates fire applicationSubmit
	}
	def(&in.UploadURLTTLSeconds, 3600)
	return in
}

// Settings returns the settings in force.
func (s *Service) Settings() simclient.AshbySettings {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	return s.settings
}

// SetSettings replaces the settings; zero fields take the default.
func (s *Service) SetSettings(in simclient.AshbySettings) (simclient.AshbySettings, error) {
	if in.WebhookActionIDPlacement != "" && in.WebhookActionIDPlacement != "top" && in.WebhookActionIDPlacement != "data" {
		return simclient.AshbySettings{}, fmt.Errorf("%w: webhookActionIdPlacement must be top or data", simcore.ErrInvalid)
	}
	if in.SubmitOnAPICreate != "" {
		if _, err := strconv.ParseBool(in.SubmitOnAPICreate); err != nil {
			return simclient.AshbySettings{}, fmt.Errorf("%w: submitOnApiCreate must be true or false", simcore.ErrInvalid)
		}
	}
	s.setMu.Lock()
	s.settings = withDefaults(in)
	s.buckets = map[string]*bucket{}
	s.setMu.Unlock()
	return s.Settings(), nil
}

// bucket is a key's token bucket, refilled on the simulated clock.
type bucket struct {
	tokens float64
	last   time.Time
}

// admit takes a token from the caller's bucket or answers 429 with
// Retry-After (whole seconds, rounded up: UNCONFIRMED, Ashby documents no
// header format).
func (s *Service) admit(req *request) *apiError {
	now := s.clock.Now()
	s.setMu.Lock()
	defer s.setMu.Unlock()
	rate, burst := s.settings.RequestsPerSecond, float64(s.settings.Burst)
	b := s.buckets[req.key.id]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		s.buckets[req.key.id] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := (1 - b.tokens) / rate
	return &apiError{
		status: http.StatusTooManyRequests, code: "rate_limit_exceeded",
		message:    "Too many requests for this API key. Retry after the time in Retry-After.",
		retryAfter: strconv.Itoa(int(math.Ceil(wait))),
	}
}

// reports is an organization's use of the report endpoints.
type reports struct {
	inflight int
	recent   []time.Time
}

// admitReport applies the documented report limits: ReportsPerMinute
// requests a minute and ReportConcurrency at once, per organization.
func (s *Service) admitReport(orgID string) (func(), *apiError) {
	now := s.clock.Now()
	s.setMu.Lock()
	defer s.setMu.Unlock()
	r := s.reports[orgID]
	if r == nil {
		r = &reports{}
		s.reports[orgID] = r
	}
	i := 0
	for i < len(r.recent) && !r.recent[i].After(now.Add(-time.Minute)) {
		i++
	}
	r.recent = r.recent[i:]
	if r.inflight >= s.settings.ReportConcurrency {
		return nil, &apiError{status: http.StatusTooManyRequests, code: "concurrent_limit_exceeded",
			message: fmt.Sprintf("At most %d report operations may run at once.", s.settings.ReportConcurrency), retryAfter: "1"}
	}
	if len(r.recent) >= s.settings.ReportsPerMinute {
		wait := r.recent[0].Add(time.Minute).Sub(now)
		return nil, &apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded",
			message:    fmt.Sprintf("At most %d report requests a minute.", s.settings.ReportsPerMinute),
			retryAfter: strconv.Itoa(int(math.Ceil(wait.Seconds())))}
	}
	r.recent = append(r.recent, now)
	r.inflight++
	s.counters.Add("ashby.reports.inflight/org="+orgID, 1)
	return func() {
		s.setMu.Lock()
		r.inflight--
		s.setMu.Unlock()
		s.counters.Add("ashby.reports.inflight/org="+orgID, -1)
	}, nil
}

// reportSynchronous answers a report with what the simulator can tell: one
// row per application (UNCONFIRMED shape; reports are not what Tandem reads).
func (s *Service) reportSynchronous(req *request) (any, *apiError) {
	o, e := s.report(req)
	if e != nil {
		return nil, e
	}
	return o, nil
}

// report is the body of a report, for report.synchronous and, with its
// requestId, report.generate.
func (s *Service) report(req *request) (object, *apiError) {
	var in struct {
		ReportID string `json:"reportId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.ReportID == "" {
		return nil, invalid("reportId is required.")
	}
	rows := [][]any{{"Application ID", "Candidate", "Job", "Status"}}
	for _, a := range req.org.applications {
		name, title := "", ""
		if c := s.w.candidates[a.candidateID]; c != nil {
			name = c.name
		}
		if j := s.w.jobs[a.jobID]; j != nil {
			title = j.title
		}
		rows = append(rows, []any{a.id, name, title, s.applicationStatus(a)})
	}
	return object{"reportData": object{"data": rows, "columnNames": rows[0]}, "status": "complete"}, nil
}

func (s *Service) reportGenerate(req *request) (any, *apiError) {
	o, e := s.report(req)
	if e != nil {
		return nil, e
	}
	o["requestId"] = req.reqID
	return o, nil
}
