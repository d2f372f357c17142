package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// maxDeliveryLog bounds the delivery log the control API shows.
const maxDeliveryLog = 10_000

// notifier posts validation requests, change notifications and lifecycle
// notifications, retrying failed deliveries on the configured schedule.
type notifier struct {
	client *http.Client
	s      *Service

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	log     []*simclient.Delivery
	faults  []*notifyFault
	batches map[string]*batch // change notifications waiting, by URL
}

// batch is the change notifications bound for one URL that will go in one
// POST: Graph puts several, possibly of several subscriptions, in one.
type batch struct {
	url    string
	items  []json.RawMessage
	subIDs []string
	timer  *time.Timer
}

type notifyFault struct {
	spec      simclient.NotificationFault
	remaining int
}

func newNotifier(client *http.Client, s *Service) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{client: client, s: s, ctx: ctx, cancel: cancel, batches: map[string]*batch{}}
}

// dropBatchesLocked forgets the notifications still waiting for their POST.
func (n *notifier) dropBatchesLocked() {
	for _, b := range n.batches {
		b.timer.Stop()
	}
	n.batches = map[string]*batch{}
}

// reset cancels pending deliveries, waits for them and clears the log.
func (n *notifier) reset() {
	n.mu.Lock()
	n.cancel()
	n.dropBatchesLocked()
	n.mu.Unlock()
	n.wg.Wait()
	n.mu.Lock()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.log, n.faults = nil, nil
	n.mu.Unlock()
}

func (n *notifier) close() {
	n.mu.Lock()
	n.cancel()
	n.dropBatchesLocked()
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *notifier) addFault(f simclient.NotificationFault) error {
	switch f.Mode {
	case simclient.NotifyDrop, simclient.NotifyDuplicate:
	case simclient.NotifyDelay:
		if f.DelayMs <= 0 {
			return errors.New("delay needs delayMs")
		}
	default:
		return errors.New("mode must be drop, delay or duplicate")
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	n.mu.Lock()
	n.faults = append(n.faults, &notifyFault{spec: f, remaining: f.Count})
	n.mu.Unlock()
	return nil
}

func (n *notifier) clearFaults() {
	n.mu.Lock()
	n.faults = nil
	n.mu.Unlock()
}

func (n *notifier) deliveries() []simclient.Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]simclient.Delivery, len(n.log))
	for i, d := range n.log {
		out[i] = *d
		out[i].Statuses = append([]int(nil), d.Statuses...)
		out[i].SubscriptionIDs = append([]string(nil), d.SubscriptionIDs...)
	}
	return out
}

// takeFaultLocked consumes the first fault that applies to a notification.
func (n *notifier) takeFaultLocked(kind, subID string) *simclient.NotificationFault {
	for i, f := range n.faults {
		if f.spec.Lifecycle != (kind == "lifecycle") {
			continue
		}
		if f.spec.SubscriptionID != "" && f.spec.SubscriptionID != subID {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			n.faults = append(n.faults[:i], n.faults[i+1:]...)
		}
		spec := f.spec
		return &spec
	}
	return nil
}

// newDeliveryLocked logs a POST of notifications (the value array's items).
func (n *notifier) newDeliveryLocked(kind, target string, subIDs []string, items []json.RawMessage) *simclient.Delivery {
	payload, _ := json.Marshal(struct { //nolint:errcheck // the items are json.Marshal's own output
		Value []json.RawMessage `json:"value"`
	}{items})
	d := &simclient.Delivery{
		ID: n.s.ids.GUID("delivery"), Kind: kind, SubscriptionID: subIDs[0], SubscriptionIDs: slices.Clone(subIDs),
		Notifications: len(items), URL: target, Payload: payload, State: simclient.DeliveryPending, Statuses: []int{},
	}
	n.log = append(n.log, d)
	if len(n.log) > maxDeliveryLog {
		n.log = n.log[len(n.log)-maxDeliveryLog:]
	}
	return d
}

// enqueueChange adds a change notification to the batch for its URL. The
// batch goes when it is full or NotificationBatchWaitMs after its first
// notification; faults apply to single notifications (a delayed one goes on
// its own, a duplicated one also goes again in a POST of its own).
func (n *notifier) enqueueChange(subID, target string, item []byte) {
	lim := n.s.Limits()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return
	}
	one := []json.RawMessage{item}
	if f := n.takeFaultLocked("change", subID); f != nil {
		switch f.Mode {
		case simclient.NotifyDrop:
			d := n.newDeliveryLocked("change", target, []string{subID}, one)
			d.State = simclient.DeliveryDropped
			n.s.counters.Inc("graph.notifications.dropped")
			return
		case simclient.NotifyDelay:
			d := n.newDeliveryLocked("change", target, []string{subID}, one)
			n.wg.Add(1)
			go n.run(n.ctx, d, time.Duration(f.DelayMs)*time.Millisecond)
			return
		case simclient.NotifyDuplicate:
			n.s.counters.Inc("graph.notifications.duplicated")
			d := n.newDeliveryLocked("change", target, []string{subID}, one)
			n.wg.Add(1)
			go n.run(n.ctx, d, 0)
		}
	}
	b := n.batches[target]
	if b == nil {
		b = &batch{url: target}
		n.batches[target] = b
		b.timer = time.AfterFunc(time.Duration(lim.NotificationBatchWaitMs)*time.Millisecond, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.batches[target] == b && n.ctx.Err() == nil {
				n.flushLocked(b)
			}
		})
	}
	b.items = append(b.items, item)
	b.subIDs = append(b.subIDs, subID)
	if len(b.items) >= lim.NotificationBatchSize {
		b.timer.Stop()
		n.flushLocked(b)
	}
}

// flushLocked sends a batch.
func (n *notifier) flushLocked(b *batch) {
	delete(n.batches, b.url)
	d := n.newDeliveryLocked("change", b.url, b.subIDs, b.items)
	n.wg.Add(1)
	go n.run(n.ctx, d, 0)
}

// enqueue schedules a POST of one notification (lifecycle notifications go
// one by one).
func (n *notifier) enqueue(kind, subID, target string, payload []byte) {
	counters := n.s.counters
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return // closing or resetting: no new deliveries
	}
	newDelivery := func() *simclient.Delivery {
		return n.newDeliveryLocked(kind, target, []string{subID}, []json.RawMessage{payload})
	}
	d := newDelivery()
	var delay time.Duration
	if f := n.takeFaultLocked(kind, subID); f != nil {
		switch f.Mode {
		case simclient.NotifyDrop:
			d.State = simclient.DeliveryDropped
			counters.Inc("graph.notifications.dropped")
			return
		case simclient.NotifyDelay:
			delay = time.Duration(f.DelayMs) * time.Millisecond
		case simclient.NotifyDuplicate:
			counters.Inc("graph.notifications.duplicated")
			dup := newDelivery()
			n.wg.Add(1)
			go n.run(n.ctx, dup, 0)
		}
	}
	n.wg.Add(1)
	go n.run(n.ctx, d, delay)
}

func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (n *notifier) run(ctx context.Context, d *simclient.Delivery, delay time.Duration) {
	defer n.wg.Done()
	counters := n.s.counters
	if !wait(ctx, delay) {
		return
	}
	for attempt := 0; ; attempt++ {
		lim := n.s.Limits()
		status := n.post(ctx, d.URL, d.Payload, time.Duration(lim.NotificationTimeoutMs)*time.Millisecond)
		n.mu.Lock()
		d.Attempts++
		d.Statuses = append(d.Statuses, status)
		ok := status >= 200 && status < 300
		if ok {
			d.State = simclient.DeliveryDelivered
		}
		n.mu.Unlock()
		counters.Inc("graph.notifications.attempts")
		if ok {
			counters.Inc("graph.notifications.delivered")
			return
		}
		counters.Inc("graph.notifications.failedAttempts")
		if attempt >= len(lim.NotificationRetryDelaysMs) {
			n.mu.Lock()
			d.State = simclient.DeliveryFailed
			n.mu.Unlock()
			counters.Inc("graph.notifications.failed")
			return
		}
		if !wait(ctx, time.Duration(lim.NotificationRetryDelaysMs[attempt])*time.Millisecond) {
			return
		}
		counters.Inc("graph.notifications.retries")
	}
}

// post sends one notification; it returns the HTTP status, or 0 when the
// endpoint could not be reached or did not answer in time.
func (n *notifier) post(ctx context.Context, target string, payload []byte, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(payload)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := n.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) //nolint:errcheck // drained for the connection's reuse; the status is the answer
	return resp.StatusCode
}

// validationFailure is a failed handshake; its text is Graph's message.
type validationFailure string

func (v validationFailure) Error() string { return string(v) }

const (
	errValidationFailed  validationFailure = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
	errValidationTimeout validationFailure = "Subscription validation request timed out."
)

// validate performs Graph's handshake: POST ?validationToken=..., expect 200
// text/plain with the decoded token as the whole body.
func (n *notifier) validate(ctx context.Context, target string, timeout time.Duration) error {
	n.s.counters.Inc("graph.validations")
	u, err := url.Parse(target)
	if err != nil {
		return errValidationFailed
	}
	token := "Validation: Testing client application reachability for subscription Request-Id: " + n.s.ids.GUID("validation")
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return errValidationFailed
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := n.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errValidationTimeout
		}
		return errValidationFailed
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errValidationTimeout
		}
		return errValidationFailed
	}
	if resp.StatusCode != http.StatusOK || mediaType(resp.Header.Get("Content-Type")) != "text/plain" || string(body) != token {
		return errValidationFailed
	}
	n.s.counters.Inc("graph.validations.passed")
	return nil
}
