package microsoft_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
)

// After Microsoft answers 429 with Retry-After: 60, no later token request
// reaches it within the pause, from this replica or another sharing Redis
// (issue 16, item 7).
func TestRetryAfterHoldsAcrossCallsAndReplicas(t *testing.T) {
	sim := microsofttest.Start(t)
	ctl := simclient.New(sim.MicrosoftURL(), nil)
	rdb := pgtest.NewRedis(t)
	keys := redisx.ServiceKeys(pgtest.RedisPrefixCleaned(t, rdb), "identity", "ratelimit-msidentity")
	replica := func() *microsoft.TokenClient {
		// As cmd/identity wires it: the app's bucket, shared in Redis.
		limiter, err := ratelimit.NewLimiter(pgtest.NewRedis(t), keys, ratelimit.Limit{Events: 20, Per: time.Second, Burst: 40})
		if err != nil {
			t.Fatal(err)
		}
		c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{Authority: sim.MicrosoftURL(), ClientID: providersim.DefaultClientID,
			ClientSecret: providersim.DefaultClientSecret, HTTP: providerhttp.New(providerhttp.Options{Provider: "msidentity", Limiter: limiter})})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := replica(), replica()
	if _, err := ctl.AddFault(t.Context(), simclient.Fault{Endpoint: "microsoft.token", Status: 429, RetryAfter: "60", Count: 1}); err != nil {
		t.Fatal(err)
	}
	before, err := ctl.Counter(t.Context(), "microsoft.token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Refresh(t.Context(), "a-refresh-token", nil)
	var ra *providerhttp.RetryAfterError
	if !errors.As(err, &ra) || ra.RetryAfter < 50*time.Second {
		t.Fatalf("the 429: %v, want a RetryAfterError of about 60s", err)
	}
	for i := range 10 {
		c := []*microsoft.TokenClient{a, b}[i%2]
		_, err := c.Refresh(t.Context(), "a-refresh-token", nil)
		if !errors.As(err, &ra) || !errors.Is(err, microsoft.ErrUnavailable) || ra.RetryAfter < 50*time.Second {
			t.Fatalf("call %d within the pause: %v, want ErrUnavailable with the rest of the pause", i+1, err)
		}
	}
	after, err := ctl.Counter(t.Context(), "microsoft.token")
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 1 {
		t.Fatalf("Microsoft saw %d token requests, want only the one it answered 429", after-before)
	}
}
