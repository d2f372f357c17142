// Package events is the one way Tandem services tell each other what
// changed (DESIGN §8, ADR 0015).
//
// A publisher calls Publisher.Publish inside the Postgres transaction that
// makes the change: one River job per subscriber of the event's type is
// inserted in that transaction (the transactional outbox), so nothing is
// published when it rolls back. Delivery's River worker calls the
// subscriber's internal EventSinkService.Deliver with the service token and
// retries with capped, jittered backoff until the subscriber acknowledges:
// a subscriber that is down only delays delivery.
//
// A receiver serves EventSinkService with a Sink (or calls
// Receiver.Receive from its own handler). In one transaction the event's id
// goes into processed_events, a repeated id is acknowledged and ignored, an
// event older than the newest version applied for its aggregate is
// acknowledged as stale and not applied, and otherwise the service's
// handler applies it.
//
// processed_events keeps an id 30 days (PruneWorker with
// PrunePeriodicJob, which every receiving service adds to its jobs): long
// after any copy of the event can still come.
//
// Metrics: tandem.events.published, .delivered, .retried, .abandoned,
// .received, and the gauge tandem.events.undelivered.age (the oldest
// undelivered event per subscriber, from River's job table). Traces: the
// publishing span's W3C trace context travels in the event; the delivery
// and the receiver's span link to it.
package events
