package subscriptions

import (
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/config"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	good := Config{WebhookBaseURL: "https://tandem.example.com/", CatchUpEvery: 5 * time.Minute, RenewBefore: 24 * time.Hour}
	if got := good.NotificationURL(); got != "https://tandem.example.com/webhooks/graph" {
		t.Errorf("notification URL %q", got)
	}
	if got := good.LifecycleURL(); got != "https://tandem.example.com/webhooks/graph/lifecycle" {
		t.Errorf("lifecycle URL %q", got)
	}
	for name, tc := range map[string]struct {
		change func(*Config)
		field  string
	}{
		"fine":            {func(*Config) {}, ""},
		"a path prefix":   {func(c *Config) { c.WebhookBaseURL = "https://example.com/tandem" }, ""},
		"not a URL":       {func(c *Config) { c.WebhookBaseURL = "tandem.example.com" }, "webhook-base-url"},
		"a query":         {func(c *Config) { c.WebhookBaseURL = "https://example.com/?x=1" }, "webhook-base-url"},
		"credentials":     {func(c *Config) { c.WebhookBaseURL = "https://u:p@example.com" }, "webhook-base-url"},
		"catch-up 0":      {func(c *Config) { c.CatchUpEvery = 0 }, "inbound-catch-up-every"},
		"renew after 7 d": {func(c *Config) { c.RenewBefore = 7 * 24 * time.Hour }, "subscription-renew-before"},
	} {
		c := good
		tc.change(&c)
		var p config.Problems
		c.Validate(&p)
		err := p.Err()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%s: %v, want a problem with %s", name, err, tc.field)
		}
	}
}

func TestClientStateIsRandomAndOnlyItsHashKept(t *testing.T) {
	t.Parallel()
	a, ha, err := newClientState()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, err := newClientState()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 43 || len(a) > 128 || string(ha) == string(hb) || len(ha) != 32 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if string(hashClientState(a)) != string(ha) || strings.Contains(string(ha), a) {
		t.Fatal("the hash is not the secret's")
	}
}
