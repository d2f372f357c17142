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
	if err := s.seedLever(); err != nil {
		return err
	}
	if s.opts.NoDemoData {
		return nil
	}
	for _, t := range DemoTenants() {
		if _, err := s.ms.CreateTenant(t); err != nil {
			return fmt.Errorf("providersim: demo tenant %s: %w", t.Domain, err)
		}
	}
	if _, err := s.ashby.CreateOrg(DemoAshby()); err != nil {
		return fmt.Errorf("providersim: demo Ashby organization: %w", err)
	}
	return nil
}

// The demo Ashby organization: its name, the title of its API key (printed
// at start; the key itself depends on the seed) and Tandem's source.
const (
	DemoAshbyOrg          = "Contoso Recruiting (Ashby)"
	DemoAshbyKeyTitle     = "Tandem"
	DemoAshbySource       = "Tandem"
	DemoAshbySourceType   = "Integration"
	DemoAshbyEngineerPlan = "Engineering Interview Plan"
)

// DemoAshby describes the demo Ashby organization seeded unless
// Options.NoDemoData is set: the Contoso recruiters as users, open, closed,
// archived and draft jobs on two interview plans, Tandem's source under
// the "Integration" source type, archive reasons and candidates.
func DemoAshby() simclient.AshbyOrg {
	st := func(title, typ string) simclient.AshbyStage { return simclient.AshbyStage{Title: title, Type: typ} }
	return simclient.AshbyOrg{
		Name: DemoAshbyOrg,
		Users: []simclient.AshbyUser{
			{FirstName: "Megan", LastName: "Bowen", Email: DemoContosoAdmin, GlobalRole: "Organization Admin"},
			{FirstName: "Adele", LastName: "Vance", Email: DemoContosoUser, GlobalRole: "Elevated Access"},
			{FirstName: "Pradeep", LastName: "Gupta", Email: DemoContosoAliasMail, GlobalRole: "Limited Access"},
		},
		InterviewPlans: []simclient.AshbyInterviewPlan{
			{Title: "Default Interview Plan"},
			{Title: DemoAshbyEngineerPlan, Stages: []simclient.AshbyStage{
				st("New Lead", simclient.AshbyStageLead), st("Reached Out", simclient.AshbyStageLead),
				st("Application Review", simclient.AshbyStagePreInterviewScreen), st("Recruiter Screen", simclient.AshbyStageActive),
				st("Technical Interview", simclient.AshbyStageActive), st("Onsite", simclient.AshbyStageActive),
				st("Offer", simclient.AshbyStageOffer), st("Hired", simclient.AshbyStageHired), st("Archived", simclient.AshbyStageArchived),
			}},
		},
		Jobs: []simclient.AshbyJob{
			{Title: "Senior Go Engineer", Status: simclient.AshbyJobOpen, InterviewPlans: []string{DemoAshbyEngineerPlan, "Default Interview Plan"}, CustomRequisitionID: "ENG-101"},
			{Title: "Product Designer", Status: simclient.AshbyJobOpen, CustomRequisitionID: "DES-7"},
			{Title: "Technical Recruiter", Status: simclient.AshbyJobOpen, EmploymentType: "Contract"},
			{Title: "Data Analyst", Status: simclient.AshbyJobClosed},
			{Title: "Office Manager", Status: simclient.AshbyJobArchived},
			{Title: "Staff SRE", Status: simclient.AshbyJobDraft, InterviewPlans: []string{DemoAshbyEngineerPlan}},
		},
		Sources: []simclient.AshbySource{
			{Title: DemoAshbySource, SourceType: DemoAshbySourceType},
			{Title: "LinkedIn", SourceType: "Sourced"},
			{Title: "Employee Referral", SourceType: "Referral"},
			{Title: "Careers Page", SourceType: "Inbound"},
			{Title: "Old Job Board", SourceType: "Inbound", IsArchived: true},
		},
		ArchiveReasons: []simclient.AshbyArchiveReason{
			{Text: "Not a fit", ReasonType: "RejectedByOrg"},
			{Text: "Withdrew", ReasonType: "RejectedByCandidate"},
			{Text: "Hired elsewhere", ReasonType: "RejectedByCandidate"},
			{Text: "Position filled", ReasonType: "Other"},
			{Text: "Duplicate", ReasonType: "Other", IsArchived: true},
		},
		Templates: []simclient.AshbyTemplate{{Title: "Rejection (polite)"}},
		Candidates: []simclient.AshbyCandidate{
			{Name: "Jordan Lee", Emails: []string{"jordan.lee@gmail.example"}, Source: "LinkedIn", Position: "Backend Engineer", Company: "Fabrikam",
				Applications: []simclient.AshbyApplication{{Job: "Senior Go Engineer", Stage: "Recruiter Screen"}}},
			{Name: "Priya Raman", Emails: []string{"priya.raman@outlook.example"}, Source: "Employee Referral",
				Applications: []simclient.AshbyApplication{{Job: "Product Designer"}}},
			{Name: "Sam Okafor", Emails: []string{"sam.okafor@proton.example", "sam@okafor.example"}, Source: "Careers Page",
				Applications: []simclient.AshbyApplication{{Job: "Data Analyst", Stage: simclient.AshbyStageHired}}},
			{Name: "Lena Fischer", Emails: []string{"lena.fischer@web.example"},
				Applications: []simclient.AshbyApplication{{Job: "Senior Go Engineer", Stage: simclient.AshbyStageArchived}}},
		},
		APIKeys: []simclient.AshbyAPIKey{{Title: DemoAshbyKeyTitle, Permissions: simclient.AshbyWriteAll()}},
	}
}

// DemoAshbyKey returns the demo organization's API key (it depends on the
// seed).
func (s *Sim) DemoAshbyKey() (string, error) {
	o, err := s.ashby.Org(DemoAshbyOrg)
	if err != nil {
		return "", err
	}
	for _, k := range o.APIKeys {
		if k.Title == DemoAshbyKeyTitle {
			return k.Key, nil
		}
	}
	return "", fmt.Errorf("providersim: the demo Ashby organization has no key %q", DemoAshbyKeyTitle)
}
