package providersim

import (
	"fmt"
	"net"

	"github.com/tandemhq/tandem/providersim/internal/lever"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Tandem's Lever OAuth app for `make run`. Lever's authorization server is
// not Microsoft's, so the same id and secret do not collide; they are
// identity's defaults.
const (
	DefaultLeverClientID     = "tandem-local"
	DefaultLeverClientSecret = "tandem-local-secret"
	DefaultLeverRedirectURI  = "http://localhost:8080/oauth/lever/callback"
	// LeverAudience is the audience /authorize requires, trailing slash
	// included.
	LeverAudience = "https://api.lever.co/v1/"
)

// The demo Lever account: the Contoso recruiters of the Microsoft demo
// tenant are its users, so a recruiter's e-mail maps to a Lever user.
const (
	DemoLeverAccount    = "Contoso Recruiting"
	DemoLeverSuperAdmin = "megan.bowen@contoso.example"   // may authorize apps
	DemoLeverUser       = "adele.vance@contoso.example"   // a team member: Lever refuses her
	DemoLeverLimited    = "pradeep.gupta@contoso.example" // limited team member
)

// DefaultLeverClient is the Lever OAuth app created when
// Options.LeverClients is nil.
func DefaultLeverClient() simclient.LeverClient {
	return simclient.LeverClient{
		ClientID: DefaultLeverClientID, Name: "Tandem (local)", ClientSecret: DefaultLeverClientSecret,
		RedirectURIs: []string{DefaultLeverRedirectURI},
	}
}

// DemoLeverAccountData is the demo account seeded unless NoDemoData is set.
func DemoLeverAccountData() simclient.LeverAccount {
	return simclient.LeverAccount{
		Name: DemoLeverAccount,
		Users: []simclient.LeverUser{
			{Name: "Megan Bowen", Email: DemoLeverSuperAdmin, AccessRole: simclient.LeverSuperAdmin, JobTitle: "Head of Talent Acquisition"},
			{Name: "Adele Vance", Email: DemoLeverUser, AccessRole: simclient.LeverTeamMember, JobTitle: "Senior Recruiter"},
			{Name: "Pradeep Gupta", Email: DemoLeverLimited, AccessRole: simclient.LeverLimitedTeamMember, JobTitle: "Recruiter"},
		},
		Sources: []string{"Tandem", "LinkedIn", "Referral", "Job board"},
		Tags:    []string{"Go", "Backend", "Design", "Remote"},
		Postings: []simclient.LeverPosting{
			{Text: "Senior Go Engineer", State: simclient.LeverPublished, Team: "Platform", Department: "Engineering", Location: "Berlin", Commitment: "Full-time", Level: "Senior", WorkplaceType: "remote", Description: "Build the backend of our recruiting products.", HiringManager: DemoLeverSuperAdmin, Owner: DemoLeverUser},
			{Text: "Product Designer", State: simclient.LeverPublished, Team: "Design", Department: "Product", Location: "London", Commitment: "Full-time", WorkplaceType: "hybrid", Owner: DemoLeverUser},
			{Text: "Recruiting Coordinator", State: simclient.LeverInternal, Team: "Talent", Department: "People", Location: "Seattle", Commitment: "Full-time", WorkplaceType: "onsite"},
			{Text: "Data Scientist", State: simclient.LeverClosed, Team: "Data", Department: "Engineering", Location: "Berlin", Commitment: "Full-time"},
			{Text: "Engineering Manager", State: simclient.LeverDraft, Team: "Platform", Department: "Engineering", Location: "Remote", Commitment: "Full-time"},
		},
		Candidates: []simclient.LeverCandidate{
			{Name: "Jordan Lee", Headline: "Staff engineer at Initech", Emails: []string{"jordan.lee@gmail.example"}, Posting: "Senior Go Engineer", Stage: "lead-reached-out", Sources: []string{"LinkedIn"}, Tags: []string{"Go", "Backend"}, Owner: DemoLeverUser},
			{Name: "Priya Natarajan", Emails: []string{"priya.natarajan@example.org"}, Phones: []string{"+49 30 1234567"}, Posting: "Senior Go Engineer", Stage: "applicant-new", Origin: "applied", Sources: []string{"Job board"}},
			{Name: "Chris Olsen", Emails: []string{"chris.olsen@example.net"}, Posting: "Product Designer", Stage: "Phone interview", Tags: []string{"Design"}, Owner: DemoLeverUser},
			{Name: "Taylor Kim", Emails: []string{"taylor.kim@example.com"}, Posting: "Data Scientist", Stage: "Recruiter screen", ArchiveReason: "Position closed"},
		},
	}
}

// listenLever opens Lever's two ports and creates the service.
func (s *Sim) listenLever(listen func(string) (net.Listener, error)) ([]net.Listener, error) {
	api, err := listen(s.opts.LeverAddr)
	if err != nil {
		return nil, fmt.Errorf("providersim: listen for Lever: %w", err)
	}
	oauth, err := listen(s.opts.LeverOAuthAddr)
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("providersim: listen for Lever OAuth: %w", err)
	}
	s.leverURL = baseURL(s.opts.LeverURL, api)
	s.leverOAuthURL = baseURL(s.opts.LeverOAuthURL, oauth)
	s.lever = lever.New(lever.Config{
		Clock: s.clock, IDs: s.ids, Counters: s.counters, Faults: s.faults, Logger: s.log,
		APIURL: s.leverURL, OAuthURL: s.leverOAuthURL, HTTPClient: s.opts.HTTPClient,
		AllowHTTPLoopback: s.opts.AllowHTTPLoopbackNotifications,
	})
	return []net.Listener{api, oauth}, nil
}

func (s *Sim) closeLever(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
	if s.lever != nil {
		s.lever.Close()
	}
}

func (s *Sim) seedLever() error {
	clients := s.opts.LeverClients
	if clients == nil {
		clients = []simclient.LeverClient{DefaultLeverClient()}
	}
	for _, c := range clients {
		if _, err := s.lever.CreateClient(c); err != nil {
			return fmt.Errorf("providersim: Lever client %s: %w", c.ClientID, err)
		}
	}
	if s.opts.NoDemoData {
		return nil
	}
	if _, err := s.lever.CreateAccount(DemoLeverAccountData()); err != nil {
		return fmt.Errorf("providersim: demo Lever account: %w", err)
	}
	return nil
}

// LeverURL is Lever's Data API base URL; the API is under LeverURL()+"/v1".
func (s *Sim) LeverURL() string { return s.leverURL }

// LeverOAuthURL is Lever's OAuth server: /authorize and /oauth/token.
func (s *Sim) LeverOAuthURL() string { return s.leverOAuthURL }
