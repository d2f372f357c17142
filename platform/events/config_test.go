package events

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
)

// The settings group reads its flags, validates through ParseSubscribers,
// and its environment variables are the loader's names for its flags.
func TestConfigGroup(t *testing.T) {
	if config.EnvName(SubscribersFlag) != SubscribersEnv || config.EnvName(RoutesFlag) != RoutesEnv {
		t.Fatalf("flags %s, %s map to %s, %s", SubscribersFlag, RoutesFlag, config.EnvName(SubscribersFlag), config.EnvName(RoutesFlag))
	}
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse([]string{"-event-subscribers=atsbridge=localhost:9103", "-event-routes=atsbridge=candidate.*"}); err != nil {
		t.Fatal(err)
	}
	var p config.Problems
	c.Validate(&p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	subs, err := c.Subscribers()
	if err != nil || len(subs) != 1 || subs[0].Target != "localhost:9103" {
		t.Fatalf("Subscribers() = %+v, %v", subs, err)
	}
	c.Routes = ""
	p = nil
	c.Validate(&p)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), SubscribersFlag) {
		t.Fatalf("a subscriber without routes: %v, want a problem naming -%s", err, SubscribersFlag)
	}
}

func TestParseSubscribers(t *testing.T) {
	got, err := ParseSubscribers(" mailbox=dns:///mailbox.tandem.svc:9104 , atsbridge=localhost:9103",
		"atsbridge=candidate.*|note.created|candidate.*,mailbox=enrollment.created")
	if err != nil {
		t.Fatal(err)
	}
	want := []Subscriber{
		{Name: "atsbridge", Target: "localhost:9103", Types: []string{"candidate.*", "note.created"}},
		{Name: "mailbox", Target: "dns:///mailbox.tandem.svc:9104", Types: []string{"enrollment.created"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	none, err := ParseSubscribers("", " ")
	if err != nil || len(none) != 0 {
		t.Fatalf("empty configuration: %v, %v; want no subscribers", none, err)
	}
}

func TestParseSubscribersRefuses(t *testing.T) {
	cases := map[string][2]string{
		"subscriber without route": {"atsbridge=localhost:9103", ""},
		"route without subscriber": {"atsbridge=localhost:9103", "atsbridge=*,mailbox=*"},
		"no address":               {"atsbridge=", "atsbridge=*"},
		"not name=value":           {"atsbridge", "atsbridge=*"},
		"bad name":                 {"Ats Bridge=localhost:1", "Ats Bridge=*"},
		"named twice":              {"atsbridge=a:1,atsbridge=b:2", "atsbridge=*"},
		"bad pattern":              {"atsbridge=a:1", "atsbridge=candidate"},
		"empty pattern":            {"atsbridge=a:1", "atsbridge=candidate.*||note.created"},
		"star inside":              {"atsbridge=a:1", "atsbridge=cand*.x"},
	}
	for name, c := range cases {
		if _, err := ParseSubscribers(c[0], c[1]); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestSubscriberWants(t *testing.T) {
	s := Subscriber{Types: []string{"candidate.*", "note.created"}}
	for typ, want := range map[string]bool{
		"candidate.stage_changed": true,
		"candidate.merged":        true,
		"note.created":            true,
		"note.deleted":            false,
		"candidates.created":      false,
		"enrollment.created":      false,
	} {
		if got := s.Wants(typ); got != want {
			t.Errorf("Wants(%q) = %v, want %v", typ, got, want)
		}
	}
	if !(Subscriber{Types: []string{"*"}}).Wants("anything.at_all") {
		t.Error(`"*" must match every type`)
	}
}

// The wait doubles from MinBackoff to MaxBackoff; jitter keeps it within
// the upper half of each step.
func TestNextRetryBackoff(t *testing.T) {
	d, err := NewDelivery(DeliveryOptions{Source: "outreach", MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.timeNow = func() time.Time { return now }
	for _, c := range []struct {
		attempt int
		full    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {500, 10 * time.Second}} {
		for _, jitter := range []func(time.Duration) time.Duration{
			func(d time.Duration) time.Duration { return d / 2 },
			func(d time.Duration) time.Duration { return d },
		} {
			d.jitter = jitter
			job := &river.Job[deliveryArgs]{JobRow: &rivertype.JobRow{Attempt: c.attempt}}
			wait := d.NextRetry(job).Sub(now)
			if wait < c.full/2 || wait > c.full {
				t.Errorf("attempt %d: wait %v, want within [%v, %v]", c.attempt, wait, c.full/2, c.full)
			}
		}
	}
	// The real jitter stays in bounds too.
	d.jitter = (&Delivery{}).defaultJitter
	for range 100 {
		if w := d.jitter(time.Second); w < time.Second/2 || w > time.Second {
			t.Fatalf("jitter(1s) = %v", w)
		}
	}
}

func TestNewDeliveryNeedsItsOwnCredentials(t *testing.T) {
	subs := []Subscriber{{Name: "atsbridge", Target: "localhost:1", Types: []string{"*"}}}
	if _, err := NewDelivery(DeliveryOptions{Source: "outreach", Subscribers: subs}); err == nil {
		t.Fatal("a delivery to subscribers without credentials was accepted")
	}
	other := authz.ServiceCredentials{Name: "mailbox", Token: "a-service-token-of-at-least-32-characters"}
	if _, err := NewDelivery(DeliveryOptions{Source: "outreach", Subscribers: subs, Credentials: other}); err == nil {
		t.Fatal("credentials under another service's name were accepted")
	}
}
