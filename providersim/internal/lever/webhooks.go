package lever

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

var webhookEvents = []string{
	simclient.LeverApplicationCreated, simclient.LeverCandidateHired, simclient.LeverCandidateStageChange,
	simclient.LeverCandidateArchiveChange, simclient.LeverCandidateDeleted, simclient.LeverInterviewCreated,
	simclient.LeverInterviewUpdated, simclient.LeverInterviewDeleted, simclient.LeverContactCreated, simclient.LeverContactUpdated,
}

// Signature is Lever's webhook signature: hex HMAC-SHA256, keyed with the
// webhook's signature token, of the delivery's token followed by its
// triggeredAt in decimal. The body itself is not signed.
func Signature(signatureToken, token string, triggeredAt int64) string {
	m := hmac.New(sha256.New, []byte(signatureToken))
	m.Write([]byte(token + strconv.FormatInt(triggeredAt, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// checkURL applies Lever's rule: webhooks go to https only (loopback http
// when the simulator allows it, for local receivers).
func (s *Service) checkURL(raw string) *apiError {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return badRequest("Invalid url")
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" && s.allowHTTPLoopback {
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return badRequest("Invalid url: webhooks must use https")
}

func renderWebhook(h *simclient.LeverWebhook) map[string]any {
	origins := h.Origins
	if origins == nil {
		origins = []string{}
	}
	return map[string]any{
		"id": h.ID, "url": h.URL, "event": h.Event, "signatureToken": h.SignatureToken,
		"configuration": map[string]any{"conditions": map[string]any{"origins": origins}}, "createdAt": h.CreatedAt,
	}
}

type webhookInput struct {
	URL           string `json:"url"`
	Event         string `json:"event"`
	Configuration *struct {
		Conditions struct {
			Origins []string `json:"origins"`
		} `json:"conditions"`
	} `json:"configuration"`
}

func (in webhookInput) origins() ([]string, *apiError) {
	if in.Configuration == nil {
		return nil, nil
	}
	for _, o := range in.Configuration.Conditions.Origins {
		if !slices.Contains(origins, o) {
			return nil, badRequest("Invalid origin: " + o)
		}
	}
	return slices.Clone(in.Configuration.Conditions.Origins), nil
}

// AddWebhook creates a webhook as an admin would in Settings.
func (s *Service) AddWebhook(accountID string, h simclient.LeverWebhook) (simclient.LeverWebhook, error) {
	if e := s.checkURL(h.URL); e != nil {
		return simclient.LeverWebhook{}, invalid("%s", e.message)
	}
	if !slices.Contains(webhookEvents, h.Event) {
		return simclient.LeverWebhook{}, invalid("unknown event %s", h.Event)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return simclient.LeverWebhook{}, err
	}
	return *s.addWebhookLocked(a, h), nil
}

func (s *Service) addWebhookLocked(a *account, h simclient.LeverWebhook) *simclient.LeverWebhook {
	h.ID = s.ids.GUID("lever-webhook")
	h.AccountID = a.id
	h.SignatureToken = s.ids.LowerHex("lever-signature-token", 20)
	h.CreatedAt = s.nowMs()
	a.webhooks = append(a.webhooks, &h)
	return &h
}

// Webhooks lists an account's webhooks with their signature tokens.
func (s *Service) Webhooks(accountID string) ([]simclient.LeverWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return nil, err
	}
	out := []simclient.LeverWebhook{}
	for _, h := range a.webhooks {
		out = append(out, *h)
	}
	return out, nil
}

func (s *Service) listWebhooks(c *call) *apiError {
	s.mu.Lock()
	items := []map[string]any{}
	for _, h := range c.account.webhooks {
		items = append(items, renderWebhook(h))
	}
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) createWebhook(c *call) *apiError {
	var in webhookInput
	if e := c.decode(&in); e != nil {
		return e
	}
	if e := s.checkURL(in.URL); e != nil {
		return e
	}
	if !slices.Contains(webhookEvents, in.Event) {
		return badRequest("Invalid event: must be one of " + strings.Join(webhookEvents, ", "))
	}
	orig, e := in.origins()
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.addWebhookLocked(c.account, simclient.LeverWebhook{URL: in.URL, Event: in.Event, Origins: orig})
	return c.data(http.StatusCreated, renderWebhook(h))
}

func (c *call) webhook() (*simclient.LeverWebhook, int) {
	for i, h := range c.account.webhooks {
		if h.ID == c.r.PathValue("id") {
			return h, i
		}
	}
	return nil, -1
}

func (s *Service) getWebhook(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, _ := c.webhook()
	if h == nil {
		return notFoundErr("Webhook not found")
	}
	return c.data(http.StatusOK, renderWebhook(h))
}

func (s *Service) updateWebhook(c *call) *apiError {
	var in webhookInput
	if e := c.decode(&in); e != nil {
		return e
	}
	if in.URL != "" {
		if e := s.checkURL(in.URL); e != nil {
			return e
		}
	}
	if in.Event != "" && !slices.Contains(webhookEvents, in.Event) {
		return badRequest("Invalid event")
	}
	orig, e := in.origins()
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, _ := c.webhook()
	if h == nil {
		return notFoundErr("Webhook not found")
	}
	if in.URL != "" {
		h.URL = in.URL
	}
	if in.Event != "" {
		h.Event = in.Event
	}
	if in.Configuration != nil {
		h.Origins = orig
	}
	return c.data(http.StatusOK, renderWebhook(h))
}

func (s *Service) deleteWebhook(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, i := c.webhook()
	if h == nil {
		return notFoundErr("Webhook not found")
	}
	c.account.webhooks = slices.Delete(c.account.webhooks, i, i+1)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deliverer posts webhook deliveries and retries failed ones on the
// simulated clock: a test advances the clock instead of waiting.
type deliverer struct {
	s      *Service
	client *http.Client

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    []*delivery
	queue  []*delivery // pending deliveries, in the order they were made
	faults []*hookFault
	held   []*delivery

	wake      chan struct{}
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

type delivery struct {
	simclient.LeverDelivery
	due      time.Time
	inFlight bool
	retries  int
}

type hookFault struct {
	spec      simclient.LeverDeliveryFault
	remaining int
}

const maxDeliveryLog = 10_000

func newDeliverer(s *Service, client *http.Client) *deliverer {
	d := &deliverer{s: s, client: client, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.loop()
	return d
}

func (d *deliverer) reset() {
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
	d.mu.Lock()
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.log, d.queue, d.faults, d.held = nil, nil, nil, nil
	d.mu.Unlock()
}

func (d *deliverer) close() {
	d.closeOnce.Do(func() { close(d.stop) })
	<-d.stopped
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// loop starts the attempts that are due on the simulated clock.
func (d *deliverer) loop() {
	defer close(d.stopped)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		case <-d.wake:
		}
		now := d.s.clock.Now()
		d.mu.Lock()
		d.queue = slices.DeleteFunc(d.queue, func(x *delivery) bool { return x.State != "pending" && x.State != "held" })
		for _, x := range d.queue {
			if x.State == "pending" && !x.inFlight && !x.due.After(now) && d.ctx.Err() == nil {
				x.inFlight = true
				d.wg.Add(1)
				go d.attempt(d.ctx, x)
			}
		}
		d.mu.Unlock()
	}
}

func (d *deliverer) addFault(f simclient.LeverDeliveryFault) error {
	switch f.Mode {
	case simclient.NotifyDrop, simclient.NotifyDuplicate:
	case simclient.NotifyDelay:
		if f.DelaySeconds <= 0 {
			return invalid("delay needs delaySeconds")
		}
	case simclient.LeverReorder:
		if f.Count < 2 {
			return invalid("reorder needs a count of at least 2")
		}
	default:
		return invalid("mode must be drop, delay, duplicate or reorder")
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	d.mu.Lock()
	d.faults = append(d.faults, &hookFault{spec: f, remaining: f.Count})
	d.mu.Unlock()
	return nil
}

func (d *deliverer) clearFaults() {
	d.mu.Lock()
	d.faults = nil
	d.mu.Unlock()
}

func (d *deliverer) takeFaultLocked(event string) *hookFault {
	for i, f := range d.faults {
		if f.spec.Event != "" && f.spec.Event != event {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			d.faults = slices.Delete(d.faults, i, i+1)
		}
		return f
	}
	return nil
}

func (d *deliverer) deliveries() []simclient.LeverDelivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]simclient.LeverDelivery, 0, len(d.log))
	for _, x := range d.log {
		v := x.LeverDelivery
		v.Statuses = slices.Clone(x.Statuses)
		if x.State == "pending" {
			due := x.due
			v.NextAttemptAt = &due
		}
		out = append(out, v)
	}
	return out
}

type target struct {
	hook  simclient.LeverWebhook
	event event
}

// dispatch turns a call's events into deliveries to every webhook of the
// account that subscribes to them.
func (d *deliverer) dispatch(events []event) {
	if len(events) == 0 {
		return
	}
	var targets []target
	d.s.mu.Lock()
	for _, ev := range events {
		a := d.s.accounts[ev.accountID]
		if a == nil {
			continue
		}
		for _, h := range a.webhooks {
			if h.Event == ev.name && (len(h.Origins) == 0 || slices.Contains(h.Origins, ev.origin)) {
				targets = append(targets, target{hook: *h, event: ev})
			}
		}
	}
	d.s.mu.Unlock()
	for _, t := range targets {
		d.send(t.hook, t.event.name, t.event.data)
	}
}

// send builds one signed delivery and queues it, applying delivery faults.
func (d *deliverer) send(h simclient.LeverWebhook, name string, data map[string]any) simclient.LeverDelivery {
	s := d.s
	now := s.clock.Now()
	triggered := now.UnixMilli()
	token := s.ids.LowerHex("lever-delivery-token", 16)
	id := s.ids.GUID("lever-delivery")
	if data == nil {
		data = map[string]any{}
	}
	body := map[string]any{
		"id": id, "triggeredAt": triggered, "event": name, "token": token,
		"signature": Signature(h.SignatureToken, token, triggered), "data": data,
	}
	payload, err := json.Marshal(body)
	if err != nil {
		// Only a simulator bug (a value JSON cannot hold in data) gets here:
		// said in the log, and the delivery goes out with an empty body.
		s.log.Error("lever webhook payload", "event", name, "err", err)
	}
	newDelivery := func() *delivery {
		x := &delivery{LeverDelivery: simclient.LeverDelivery{
			ID: id, WebhookID: h.ID, Event: name, URL: h.URL, Payload: payload, Statuses: []int{}, State: "pending",
		}, due: now}
		d.log = append(d.log, x)
		d.queue = append(d.queue, x)
		if len(d.log) > maxDeliveryLog {
			d.log = d.log[len(d.log)-maxDeliveryLog:]
		}
		return x
	}
	d.mu.Lock()
	defer d.poke()
	defer d.mu.Unlock()
	s.counters.Inc("lever.webhooks.deliveries", "lever.webhooks.deliveries/"+name)
	x := newDelivery()
	if f := d.takeFaultLocked(name); f != nil {
		switch f.spec.Mode {
		case simclient.NotifyDrop:
			x.State = "dropped"
			s.counters.Inc("lever.webhooks.dropped")
		case simclient.NotifyDelay:
			x.due = now.Add(time.Duration(f.spec.DelaySeconds * float64(time.Second)))
		case simclient.NotifyDuplicate:
			s.counters.Inc("lever.webhooks.duplicated")
			newDelivery()
		case simclient.LeverReorder:
			x.State = "held"
			d.held = append(d.held, x)
			if f.remaining <= 0 {
				held := d.held
				d.held = nil
				slices.Reverse(held)
				for _, h := range held {
					h.inFlight = true
					h.State = "pending"
				}
				d.wg.Add(1)
				go d.serial(d.ctx, held)
			}
		}
	}
	return x.LeverDelivery
}

// serial makes the first attempts of held deliveries one after another, in
// the order given.
func (d *deliverer) serial(ctx context.Context, list []*delivery) {
	defer d.wg.Done()
	for _, x := range list {
		d.wg.Add(1)
		d.attempt(ctx, x)
	}
}

func (d *deliverer) attempt(ctx context.Context, x *delivery) {
	defer d.wg.Done()
	set := d.s.Settings()
	status := d.post(ctx, x.URL, x.Payload, time.Duration(set.WebhookTimeoutMs)*time.Millisecond)
	if ctx.Err() != nil {
		return
	}
	counters := d.s.counters
	counters.Inc("lever.webhooks.attempts")
	d.mu.Lock()
	defer d.poke()
	defer d.mu.Unlock()
	x.inFlight = false
	x.Attempts++
	x.Statuses = append(x.Statuses, status)
	if status >= 200 && status < 300 {
		x.State = "delivered"
		counters.Inc("lever.webhooks.delivered")
		return
	}
	counters.Inc("lever.webhooks.failedAttempts")
	if x.retries >= len(set.WebhookRetryDelaysSeconds) {
		x.State = "failed"
		counters.Inc("lever.webhooks.failed")
		return
	}
	x.due = d.s.clock.Now().Add(time.Duration(set.WebhookRetryDelaysSeconds[x.retries]) * time.Second)
	x.retries++
	counters.Inc("lever.webhooks.retries")
}

// post sends one attempt; it returns the HTTP status, or 0 when the
// receiver could not be reached or did not answer in time.
func (d *deliverer) post(ctx context.Context, target string, payload []byte, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(payload)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Lever-Webhooks")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) //nolint:errcheck // drained only so the connection is reused; the status is the attempt's outcome
	return resp.StatusCode
}

// TestWebhook sends Lever's connection test: signed like every delivery,
// with no opportunityId in data.
func (s *Service) TestWebhook(id string) (simclient.LeverDelivery, error) {
	s.mu.Lock()
	var hook *simclient.LeverWebhook
	for _, a := range s.accounts {
		for _, h := range a.webhooks {
			if h.ID == id {
				hook = h
			}
		}
	}
	var h simclient.LeverWebhook
	if hook != nil {
		h = *hook
	}
	s.mu.Unlock()
	if hook == nil {
		return simclient.LeverDelivery{}, notFound("no webhook %s", id)
	}
	return s.hooks.send(h, h.Event, map[string]any{}), nil
}
