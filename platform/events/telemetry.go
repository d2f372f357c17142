package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/tandemhq/tandem/platform/events"

// Span and metric attributes.
var (
	attrEventID    = attribute.Key("tandem.event.id")
	attrEventType  = attribute.Key("tandem.event.type")
	attrSource     = attribute.Key("tandem.event.source")
	attrSubscriber = attribute.Key("tandem.event.subscriber")
	attrOutcome    = attribute.Key("tandem.event.outcome")
	attrCode       = attribute.Key("rpc.grpc.status_code")
	attrReason     = attribute.Key("tandem.event.reason")
)

type instruments struct {
	meter metric.Meter
	// published counts events handed to the outbox, per subscriber. A
	// transaction that rolls back after Publish is counted too: the gauge,
	// not published minus delivered, is the backlog.
	published metric.Int64Counter
	delivered metric.Int64Counter
	retried   metric.Int64Counter
	abandoned metric.Int64Counter
	received  metric.Int64Counter
	age       metric.Float64ObservableGauge
}

func newInstruments(mp metric.MeterProvider) instruments {
	m := meterProviderOr(mp).Meter(instrumentationName)
	published, errPublished := m.Int64Counter("tandem.events.published",
		metric.WithDescription("Events put in the outbox, one per subscriber."), metric.WithUnit("{event}"))
	delivered, errDelivered := m.Int64Counter("tandem.events.delivered",
		metric.WithDescription("Events a subscriber acknowledged, by outcome (applied, duplicate, stale)."), metric.WithUnit("{event}"))
	retried, errRetried := m.Int64Counter("tandem.events.retried",
		metric.WithDescription("Deliveries that failed and will be tried again, by gRPC code."), metric.WithUnit("{attempt}"))
	abandoned, errAbandoned := m.Int64Counter("tandem.events.abandoned",
		metric.WithDescription("Events given up on: refused as malformed, or out of attempts."), metric.WithUnit("{event}"))
	received, errReceived := m.Int64Counter("tandem.events.received",
		metric.WithDescription("Events a receiver acknowledged, by outcome (applied, duplicate, stale)."), metric.WithUnit("{event}"))
	age, errAge := m.Float64ObservableGauge("tandem.events.undelivered.age",
		metric.WithDescription("Age of the oldest event not yet delivered, per subscriber; zero when none waits."), metric.WithUnit("s"))
	// Creating an instrument fails only on an invalid name (ours are
	// constants), and the API returns a working no-op even then: the error
	// goes to OpenTelemetry's error handler, and events flow without it.
	if err := errors.Join(errPublished, errDelivered, errRetried, errAbandoned, errReceived, errAge); err != nil {
		otel.Handle(fmt.Errorf("events: metric instruments: %w", err))
	}
	return instruments{meter: m, published: published, delivered: delivered, retried: retried, abandoned: abandoned, received: received, age: age}
}

// backlogQuery finds, per subscriber, the oldest delivery job in a River
// state that may still run (not completed, cancelled or discarded).
const backlogQuery = `SELECT args->>'subscriber', EXTRACT(EPOCH FROM now() - min(created_at))::float8
	FROM %s WHERE kind = $1 AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending')
	GROUP BY 1`

func registerBacklogGauge(inst instruments, db backlogQuerier, schema string, subs []Subscriber) (metric.Registration, error) {
	query := fmt.Sprintf(backlogQuery, pgx.Identifier{schema, "river_job"}.Sanitize())
	reg, err := inst.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ages, err := undeliveredAges(ctx, db, query)
		if err != nil {
			return err
		}
		// Every configured subscriber has a value, so an alert sees it
		// fall back to zero.
		for _, s := range subs {
			o.ObserveFloat64(inst.age, ages[s.Name], metric.WithAttributes(attrSubscriber.String(s.Name)))
			delete(ages, s.Name)
		}
		// Jobs for a subscriber no longer configured still wait.
		for name, age := range ages {
			o.ObserveFloat64(inst.age, age, metric.WithAttributes(attrSubscriber.String(name)))
		}
		return nil
	}, inst.age)
	if err != nil {
		return nil, fmt.Errorf("events: register gauge: %w", err)
	}
	return reg, nil
}

func undeliveredAges(ctx context.Context, db backlogQuerier, query string) (map[string]float64, error) {
	rows, err := db.Query(ctx, query, deliveryArgs{}.Kind())
	if err != nil {
		return nil, fmt.Errorf("events: undelivered age: %w", err)
	}
	defer rows.Close()
	ages := map[string]float64{}
	for rows.Next() {
		var name string
		var age float64
		if err := rows.Scan(&name, &age); err != nil {
			return nil, fmt.Errorf("events: undelivered age: %w", err)
		}
		ages[name] = age
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: undelivered age: %w", err)
	}
	return ages, nil
}

func tracerProviderOr(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return otel.GetTracerProvider()
	}
	return tp
}

func meterProviderOr(mp metric.MeterProvider) metric.MeterProvider {
	if mp == nil {
		return otel.GetMeterProvider()
	}
	return mp
}
