package main

import (
	"context"

	"github.com/tandemhq/tandem/providersim"
)

// printLeverBanner prints Lever's URLs, the OAuth app and the demo account.
func printLeverBanner(ctx context.Context, p func(string, ...any), sim *providersim.Sim) error {
	client := sim.Client()
	p("")
	p("Lever")
	p("  Data API       %s/v1", sim.LeverURL())
	p("  OAuth          %s/authorize, %s/oauth/token  (audience %s)", sim.LeverOAuthURL(), sim.LeverOAuthURL(), providersim.LeverAudience)
	apps, err := client.LeverClients(ctx)
	if err != nil {
		return err
	}
	for _, a := range apps {
		p("  OAuth app      client id %s, client secret [redacted] (default %q)", a.ClientID, providersim.DefaultLeverClientSecret)
		for _, u := range a.RedirectURIs {
			p("                 redirect URI %s", u)
		}
	}
	accounts, err := client.LeverAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		p("  Demo account   %s  (id %s): sign in on the consent page with an address, no password", a.Name, a.ID)
		for _, u := range a.Users {
			note := ""
			if u.AccessRole == "super admin" {
				note = "  <- can authorize Tandem"
			}
			p("    %-20s %-34s %s%s", u.AccessRole, u.Email, u.Name, note)
		}
		for _, ps := range a.Postings {
			p("    posting  %-9s %s (%s)", ps.State, ps.Text, ps.ID)
		}
	}
	return nil
}
