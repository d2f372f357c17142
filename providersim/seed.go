package providersim

import (
	"fmt"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// The Tandem app registration that `make run` uses.
const (
	DefaultClientID     = "tandem-local"
	DefaultClientSecret = "tandem-local-secret"
)

// DefaultRedirectURIs are the redirect URIs registered for the default app:
// the gateway's sign-in callback and its admin-consent callback.
var DefaultRedirectURIs = []string{
	"http://localhost:8080/oauth/microsoft/callback",
	"http://localhost:8080/oauth/microsoft/adminconsent/callback",
}

// DefaultApp is the app registration created when Options.Apps is nil.
func DefaultApp() simclient.App {
	return simclient.App{
		ClientID:     DefaultClientID,
		DisplayName:  "Tandem (local)",
		ClientSecret: DefaultClientSecret,
		RedirectURIs: append([]string(nil), DefaultRedirectURIs...),
		StaticScopes: []string{"openid", "profile", "email", "offline_access", "User.Read", "Mail.Send", "Mail.ReadWrite", "Mail.Read"},
		// Tandem tells admins from users by the wids claim, which needs this.
		GroupMembershipClaims: simclient.GroupClaimsDirectoryRole,
	}
}

// Demo tenants: one per consent policy, each with an admin and a recruiter.
// Their ids depend on the seed; look them up by domain.
const (
	DemoContosoDomain   = "contoso.example"   // users may consent
	DemoFabrikamDomain  = "fabrikam.example"  // admins only, admin consent workflow off
	DemoNorthwindDomain = "northwind.example" // admins only, admin consent workflow on

	DemoContosoAdmin   = "megan.bowen@contoso.example"
	DemoContosoUser    = "adele.vance@contoso.example"
	DemoFabrikamAdmin  = "alex.wilber@fabrikam.example"
	DemoFabrikamUser   = "diego.siciliani@fabrikam.example"
	DemoNorthwindAdmin = "isaiah.langer@northwind.example"
	DemoNorthwindUser  = "lynne.robbins@northwind.example"

	// DemoContosoAlias signs in as pgupta@contoso.example, but their address
	// is pradeep.gupta@contoso.example, and their ID tokens have no email
	// claim: an app must take the address from Graph's mail.
	DemoContosoAlias     = "pgupta@contoso.example"
	DemoContosoAliasMail = "pradeep.gupta@contoso.example"
)

// DemoTenants describes the demo data seeded unless Options.NoDemoData is set.
// Demo users have no password: any password, or none, signs them in.
func DemoTenants() []simclient.Tenant {
	return []simclient.Tenant{
		{
			DisplayName: "Contoso Recruiting", Domain: DemoContosoDomain,
			ConsentPolicy: simclient.UsersMayConsent,
			Users: []simclient.User{
				{GivenName: "Megan", Surname: "Bowen", UserPrincipalName: DemoContosoAdmin, JobTitle: "Head of Talent Acquisition", Admin: true},
				{GivenName: "Adele", Surname: "Vance", UserPrincipalName: DemoContosoUser, JobTitle: "Senior Recruiter"},
				{
					GivenName: "Pradeep", Surname: "Gupta", UserPrincipalName: DemoContosoAlias, JobTitle: "Recruiter",
					Mail: DemoContosoAliasMail, ProxyAddresses: []string{"smtp:" + DemoContosoAlias, "smtp:pradeep@contoso.example"},
					OmitEmailClaim: true,
				},
			},
		},
		{
			DisplayName: "Fabrikam", Domain: DemoFabrikamDomain,
			ConsentPolicy: simclient.AdminsOnly,
			Users: []simclient.User{
				{GivenName: "Alex", Surname: "Wilber", UserPrincipalName: DemoFabrikamAdmin, JobTitle: "IT Administrator", Admin: true},
				{GivenName: "Diego", Surname: "Siciliani", UserPrincipalName: DemoFabrikamUser, JobTitle: "Technical Recruiter"},
			},
		},
		{
			DisplayName: "Northwind Traders", Domain: DemoNorthwindDomain,
			ConsentPolicy: simclient.AdminsOnly, AdminConsentWorkflow: true,
			Users: []simclient.User{
				{GivenName: "Isaiah", Surname: "Langer", UserPrincipalName: DemoNorthwindAdmin, JobTitle: "Global Administrator", Admin: true},
				{GivenName: "Lynne", Surname: "Robbins", UserPrincipalName: DemoNorthwindUser, JobTitle: "Recruiting Coordinator"},
			},
		},
	}
}

func (s *Sim) seed() error {
	apps := s.opts.Apps
	if apps == nil {
		apps = []simclient.App{DefaultApp()}
	}
	for _, a := range apps {
		if _, err := s.ms.CreateApp(a); err != nil {
			return fmt.Errorf("providersim: app %s: %w", a.ClientID, err)
		}
	}
	if s.opts.NoDemoData {
		return nil
	}
	for _, t := range DemoTenants() {
		if _, err := s.ms.CreateTenant(t); err != nil {
			return fmt.Errorf("providersim: demo tenant %s: %w", t.Domain, err)
		}
	}
	return nil
}
