package ashby

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// webhookTypes are the event types of webhook.create; ping, jobCreate,
// jobUpdate, openingCreate and signatureRequestUpdate are set up in Ashby's
// UI only (the control API creates them).
var webhookTypes = []string{
	"applicationSubmit", "applicationUpdate", "candidateHire", "candidateStageChange", "candidateDelete",
	"candidateMerge", "interviewPlanTransition", "interviewScheduleCreate", "interviewScheduleUpdate",
	"jobPostingUpdate", "jobPostingPublish", "jobPostingUnpublish", "offerCreate", "offerUpdate", "offerDelete",
	"pushToHRIS", "surveySubmit",
}

var uiOnlyWebhookTypes = []string{"ping", "jobCreate", "jobUpdate", "openingCreate", "signatureRequestUpdate"}

func webhookJSON(h *webhook) object {
	return object{"id": h.id, "enabled": h.enabled, "requestUrl": h.url, "secretToken": h.secret, "webhookType": h.typ}
}

func checkURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (s *Service) webhookCreate(req *request) (any, *apiError) {
	var in struct {
		WebhookType string `json:"webhookType"`
		RequestURL  string `json:"requestUrl"`
		SecretToken string `json:"secretToken"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	switch {
	case in.WebhookType == "":
		return nil, invalid("webhookType is required.")
	case !slices.Contains(webhookTypes, in.WebhookType):
		return nil, invalid("webhookType %q cannot be created through the API.", in.WebhookType)
	case in.RequestURL == "":
		return nil, invalid("requestUrl is required.")
	case !checkURL(in.RequestURL):
		return nil, invalid("requestUrl %q is not an absolute http(s) URL.", in.RequestURL)
	case in.SecretToken == "":
		return nil, invalid("secretToken is required.")
	}
	h := s.addWebhook(req.org, in.WebhookType, in.RequestURL, in.SecretToken)
	return webhookJSON(h), nil
}

func (s *Service) addWebhook(o *org, typ, target, secret string) *webhook {
	h := &webhook{id: s.ids.GUID("ashby-webhook"), orgID: o.id, typ: typ, url: target, secret: secret, enabled: true}
	s.w.webhooks[h.id] = h
	o.webhooks = append(o.webhooks, h)
	return h
}

func (s *Service) webhookByID(req *request, id string) (*webhook, *apiError) {
	if id == "" {
		return nil, invalid("webhookId is required.")
	}
	h := s.w.webhooks[id]
	if h == nil || h.orgID != req.org.id {
		return nil, fail("webhook_not_found", "No webhook with id %s.", id)
	}
	return h, nil
}

func (s *Service) webhookInfo(req *request) (any, *apiError) {
	var in struct {
		WebhookID string `json:"webhookId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	h, e := s.webhookByID(req, in.WebhookID)
	if e != nil {
		return nil, e
	}
	return webhookJSON(h), nil
}

func (s *Service) webhookUpdate(req *request) (any, *apiError) {
	var in struct {
		WebhookID   string  `json:"webhookId"`
		Enabled     *bool   `json:"enabled"`
		RequestURL  *string `json:"requestUrl"`
		SecretToken *string `json:"secretToken"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	h, e := s.webhookByID(req, in.WebhookID)
	if e != nil {
		return nil, e
	}
	if in.RequestURL != nil && !checkURL(*in.RequestURL) {
		return nil, invalid("requestUrl %q is not an absolute http(s) URL.", *in.RequestURL)
	}
	if in.Enabled != nil {
		h.enabled = *in.Enabled
	}
	if in.RequestURL != nil {
		h.url = *in.RequestURL
	}
	if in.SecretToken != nil {
		h.secret = *in.SecretToken
	}
	return webhookJSON(h), nil
}

func (s *Service) webhookDelete(req *request) (any, *apiError) {
	var in struct {
		WebhookID string `json:"webhookId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	h, e := s.webhookByID(req, in.WebhookID)
	if e != nil {
		return nil, e
	}
	delete(s.w.webhooks, h.id)
	o := s.w.orgs[h.orgID]
	o.webhooks = slices.DeleteFunc(o.webhooks, func(x *webhook) bool { return x == h })
	return object{"webhookId": h.id}, nil
}

// event is one delivery to make: a webhook's action, rendered.
type event struct {
	webhookID, action, actionID, url, secret string
	body                                     []byte
}

// chain records the webhooks an action fires: every enabled webhook of the
// organization for each of actions, sharing one webhookActionId. Called
// with s.mu held; the deliveries start once the call is answered.
func (s *Service) chain(events *[]event, o *org, actions []string, data object) {
	if o == nil {
		return
	}
	actionID := s.ids.GUID("ashby-webhook-action")
	placement := s.Settings().WebhookActionIDPlacement
	for _, action := range actions {
		for _, h := range o.webhooks {
			if !h.enabled || h.typ != action {
				continue
			}
			d := make(object, len(data)+1)
			for k, v := range data {
				d[k] = v
			}
			body := object{"action": action, "data": d}
			if placement == "data" {
				d["webhookActionId"] = actionID
			} else {
				body["webhookActionId"] = actionID
			}
			raw, err := json.Marshal(body)
			if err != nil {
				s.log.Error("ashby: webhook body", "err", err)
				continue
			}
			*events = append(*events, event{webhookID: h.id, action: action, actionID: actionID, url: h.url, secret: h.secret, body: raw})
		}
	}
	s.counters.Add("ashby.webhooks.events", int64(len(actions)))
}

// Sign is Ashby's signature of a webhook body: "sha256=" and the hex
// HMAC-SHA256 of the raw body under the secret token.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// noRetry are the statuses after which Ashby gives up at once.
var noRetry = []int{401, 403, 404, 405, 410}

// maxDeliveryLog bounds the delivery log.
const maxDeliveryLog = 10_000

// delivery is one event on its way, retried on the simulated clock.
type delivery struct {
	view     simclient.AshbyDelivery
	secret   string
	inflight bool
	// after holds a re-ordered delivery until the one before it in the new
	// order has made its first attempt.
	after *delivery
}

// deliverer posts webhook deliveries. A loop looks every few milliseconds
// for deliveries whose time (on the simulated clock) has come, so advancing
// the clock releases retries at once.
type deliverer struct {
	s      *Service
	client *http.Client

	mu       sync.Mutex
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	log      []*delivery
	faults   []*simclient.AshbyDeliveryFault
	held     []*delivery // gathered by a reorder fault
	holdWant int
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once
}

func newDeliverer(s *Service, client *http.Client) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deliverer{s: s, client: client, ctx: ctx, cancel: cancel, stop: make(chan struct{}), stopped: make(chan struct{})}
	go d.loop()
	return d
}

func (d *deliverer) loop() {
	defer close(d.stopped)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			d.sendDue()
		case <-d.stop:
			return
		}
	}
}

func (d *deliverer) reset() {
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
	d.mu.Lock()
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.log, d.faults, d.held, d.holdWant = nil, nil, nil, 0
	d.mu.Unlock()
}

func (d *deliverer) close() {
	d.once.Do(func() { close(d.stop) })
	<-d.stopped
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *deliverer) addFault(f simclient.AshbyDeliveryFault) error {
	switch f.Mode {
	case simclient.AshbyDeliveryDrop, simclient.AshbyDeliveryDuplicate:
	case simclient.AshbyDeliveryDelay:
		if f.DelaySeconds <= 0 {
			return errorf("delay needs delaySeconds")
		}
	case simclient.AshbyDeliveryReorder:
		if f.Count < 2 {
			return errorf("reorder needs a count of at least 2")
		}
	default:
		return errorf("mode must be drop, delay, duplicate or reorder")
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	d.mu.Lock()
	d.faults = append(d.faults, &f)
	d.mu.Unlock()
	return nil
}

func (d *deliverer) clearFaults() {
	d.mu.Lock()
	d.faults = nil
	for _, h := range d.held { // release what a reorder held
		h.view.State = simclient.DeliveryPending
	}
	d.held, d.holdWant = nil, 0
	d.mu.Unlock()
}

func (d *deliverer) takeFaultLocked(action string) *simclient.AshbyDeliveryFault {
	for i, f := range d.faults {
		if f.Action != "" && f.Action != action {
			continue
		}
		spec := *f
		if f.Mode == simclient.AshbyDeliveryReorder {
			d.faults = append(d.faults[:i], d.faults[i+1:]...)
			return &spec
		}
		f.Count--
		if f.Count <= 0 {
			d.faults = append(d.faults[:i], d.faults[i+1:]...)
		}
		return &spec
	}
	return nil
}

func (d *deliverer) newLocked(e event, now time.Time) *delivery {
	x := &delivery{secret: e.secret, view: simclient.AshbyDelivery{
		ID: d.s.ids.GUID("ashby-delivery"), WebhookID: e.webhookID, Action: e.action, WebhookActionID: e.actionID,
		URL: e.url, Payload: json.RawMessage(e.body), State: simclient.DeliveryPending,
		Statuses: []int{}, AttemptedAt: []time.Time{}, NextAttemptAt: now,
	}}
	if e.secret != "" {
		x.view.Signature = Sign(e.secret, e.body)
	}
	d.log = append(d.log, x)
	if len(d.log) > maxDeliveryLog {
		d.log = d.log[len(d.log)-maxDeliveryLog:]
	}
	return x
}

// enqueue schedules the deliveries of events, applying delivery faults.
func (d *deliverer) enqueue(events []event) {
	if len(events) == 0 {
		return
	}
	now := d.s.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range events {
		x := d.newLocked(e, now)
		f := d.takeFaultLocked(e.action)
		if f == nil && d.holdWant > 0 {
			f = &simclient.AshbyDeliveryFault{Mode: simclient.AshbyDeliveryReorder}
		}
		if f == nil {
			continue
		}
		switch f.Mode {
		case simclient.AshbyDeliveryDrop:
			x.view.State = simclient.DeliveryDropped
			d.s.counters.Inc("ashby.webhooks.dropped")
		case simclient.AshbyDeliveryDelay:
			x.view.NextAttemptAt = now.Add(seconds(f.DelaySeconds))
			d.s.counters.Inc("ashby.webhooks.delayed")
		case simclient.AshbyDeliveryDuplicate:
			d.newLocked(e, now)
			d.s.counters.Inc("ashby.webhooks.duplicated")
		case simclient.AshbyDeliveryReorder:
			if d.holdWant == 0 {
				d.holdWant = f.Count
			}
			x.view.State = "held"
			d.held = append(d.held, x)
			if len(d.held) >= d.holdWant {
				// Release newest first, one after the other.
				var prev *delivery
				for _, h := range slices.Backward(d.held) {
					h.view.State, h.view.NextAttemptAt, h.after = simclient.DeliveryPending, now, prev
					prev = h
				}
				d.s.counters.Inc("ashby.webhooks.reordered")
				d.held, d.holdWant = nil, 0
			}
		}
	}
}

// sendDue starts the attempts that are due.
func (d *deliverer) sendDue() {
	now := d.s.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	var due []*delivery
	for _, x := range d.log {
		if x.view.State == simclient.DeliveryPending && !x.inflight && !x.view.NextAttemptAt.After(now) {
			if x.after != nil && x.after.view.Attempts == 0 && x.after.view.State == simclient.DeliveryPending {
				continue
			}
			due = append(due, x)
		}
	}
	for _, x := range due {
		x.inflight = true
		d.wg.Add(1)
		go d.attempt(d.ctx, x)
	}
}

func (d *deliverer) attempt(ctx context.Context, x *delivery) {
	defer d.wg.Done()
	set := d.s.Settings()
	status := d.post(ctx, x, time.Duration(set.WebhookTimeoutMs)*time.Millisecond)
	if ctx.Err() != nil {
		return
	}
	now := d.s.clock.Now()
	c := d.s.counters
	c.Inc("ashby.webhooks.attempts", "ashby.webhooks.attempts/"+x.view.Action)
	d.mu.Lock()
	defer d.mu.Unlock()
	x.inflight = false
	x.view.Attempts++
	x.view.Statuses = append(x.view.Statuses, status)
	x.view.AttemptedAt = append(x.view.AttemptedAt, now)
	switch {
	case status >= 200 && status < 300:
		x.view.State, x.view.NextAttemptAt = simclient.DeliveryDelivered, time.Time{}
		c.Inc("ashby.webhooks.delivered")
	case slices.Contains(noRetry, status) || x.view.Attempts >= set.WebhookMaxAttempts:
		x.view.State, x.view.NextAttemptAt = simclient.DeliveryFailed, time.Time{}
		c.Inc("ashby.webhooks.failed")
	default:
		// Ashby's schedule: (2^attempt - 1) x 10 s after each failure
		// (10 s, 30 s, 70 s, 150 s, ...).
		delay := float64(int(1)<<x.view.Attempts-1) * set.WebhookRetryBaseSeconds
		x.view.NextAttemptAt = now.Add(seconds(delay))
		c.Inc("ashby.webhooks.retries")
	}
}

// post sends one attempt; 0 means no answer (refused, or timed out).
func (d *deliverer) post(ctx context.Context, x *delivery, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.view.URL, bytes.NewReader(x.view.Payload))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Ashby-Webhooks")
	if x.view.Signature != "" {
		req.Header.Set("Ashby-Signature", x.view.Signature)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) //nolint:errcheck // drained only so the connection is reused; the status is the attempt's outcome
	return resp.StatusCode
}

func (d *deliverer) deliveries() []simclient.AshbyDelivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]simclient.AshbyDelivery, len(d.log))
	for i, x := range d.log {
		out[i] = x.view
		out[i].Statuses = slices.Clone(x.view.Statuses)
		out[i].AttemptedAt = slices.Clone(x.view.AttemptedAt)
	}
	return out
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{simcore.ErrInvalid}, args...)...)
}
