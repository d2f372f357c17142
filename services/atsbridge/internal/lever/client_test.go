package lever_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
)

func startSim(t *testing.T) *providersim.Sim {
	t.Helper()
	sim, err := providersim.Start(t.Context(), providersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func client(t *testing.T, sim *providersim.Sim) *lever.Client {
	t.Helper()
	c, err := lever.New(sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadsTheAccount(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	ctx := t.Context()
	ctl := sim.Client()
	// More users than one page, so the listing pages by Lever's next token.
	for i := range 130 {
		if _, err := ctl.AddLeverUser(ctx, providersim.DemoLeverAccount, simclient.LeverUser{Name: "User", Email: fmt.Sprintf("user%d@contoso.example", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := client(t, sim)
	a := lever.Auth{ConnectionID: "conn-1", Token: levertest.AccessToken(t, sim)}
	acct, err := ctl.LeverAccount(ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}

	stages, err := c.Stages(ctx, a)
	if err != nil || len(stages) == 0 || len(stages) != len(acct.Stages) {
		t.Fatalf("stages: %d, %v (account has %d)", len(stages), err, len(acct.Stages))
	}
	for i, s := range stages {
		if s.ID != acct.Stages[i].ID || s.Text != acct.Stages[i].Text {
			t.Fatalf("stage %d: %+v, want %+v in Lever's order", i, s, acct.Stages[i])
		}
	}
	postings, err := c.Postings(ctx, a)
	if err != nil || len(postings) != len(acct.Postings) {
		t.Fatalf("postings: %d, %v", len(postings), err)
	}
	if i := slices.IndexFunc(postings, func(p lever.Posting) bool { return p.Text == "Senior Go Engineer" }); i < 0 ||
		postings[i].State != "published" || postings[i].Categories.Location != "Berlin" || postings[i].Updated().IsZero() {
		t.Fatalf("postings: %+v", postings)
	}
	users, err := c.Users(ctx, a)
	if err != nil || len(users) != 133 {
		t.Fatalf("users: %d, %v", len(users), err)
	}
	if !slices.ContainsFunc(users, func(u lever.User) bool {
		return u.Email == providersim.DemoLeverSuperAdmin && u.AccessRole == simclient.LeverSuperAdmin
	}) {
		t.Fatal("the Super Admin is missing from the users")
	}
	if n, err := ctl.Counter(ctx, "lever.listUsers"); err != nil || n != 2 {
		t.Fatalf("133 users should take two pages: %d, %v", n, err)
	}
	reasons, err := c.ArchiveReasons(ctx, a)
	if err != nil || len(reasons) == 0 || reasons[0].Type == "" {
		t.Fatalf("archive reasons: %+v, %v", reasons, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	ctx := t.Context()
	c := client(t, sim)

	_, err := c.Stages(ctx, lever.Auth{ConnectionID: "c", Token: "made-up"})
	var ae *lever.APIError
	if !errors.Is(err, lever.ErrUnauthorized) || !errors.As(err, &ae) || ae.StatusCode != 401 || strings.Contains(err.Error(), "Invalid token") {
		t.Fatalf("an unknown token: %v", err)
	}
	// A grant without the users scope.
	a := lever.Auth{ConnectionID: "c", Token: levertest.AccessToken(t, sim, "stages:read:admin")}
	if _, err := c.Users(ctx, a); !errors.Is(err, lever.ErrForbidden) {
		t.Fatalf("a missing scope: %v", err)
	}
	// Revoked in Lever: the token is refused.
	if _, err := sim.Client().RevokeLever(ctx, providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stages(ctx, a); !errors.Is(err, lever.ErrUnauthorized) {
		t.Fatalf("a revoked grant: %v", err)
	}

	b := lever.Auth{ConnectionID: "d", Token: levertest.AccessToken(t, sim)}
	if _, err := sim.Client().AddFault(ctx, simclient.Fault{Endpoint: "lever.listStages", Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stages(ctx, b); !errors.Is(err, lever.ErrUnavailable) {
		t.Fatalf("a 500: %v", err)
	}
	if _, err := sim.Client().AddFault(ctx, simclient.Fault{Endpoint: "lever.listStages", Status: 429, RetryAfter: "30", Count: 1}); err != nil {
		t.Fatal(err)
	}
	var ra *providerhttp.RetryAfterError
	if _, err := c.Stages(ctx, b); !errors.As(err, &ra) || !errors.Is(err, providerhttp.ErrRateLimited) {
		t.Fatalf("a 429: %v", err)
	}
}
