package lever

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// account is one company's Lever.
type account struct {
	id, name string
	users    []*user
	stages   []simclient.LeverStage
	reasons  []simclient.LeverArchiveReason
	sources  []string // sources known to the account, beside those in use
	tags     []string
	postings []*posting
	opps     []*opportunity // in creation order, deleted ones included
	contacts map[string]*contact
	byEmail  map[string]*contact // lower-case address -> its contact
	webhooks []*simclient.LeverWebhook
}

type user struct {
	simclient.LeverUser
	createdAt     int64
	deactivatedAt int64
}

type posting struct {
	simclient.LeverPosting
	ownerID, hiringManagerID string
	createdAt, updatedAt     int64
}

type contact struct {
	id     string
	emails []string
}

type application struct {
	id, postingID, userID, typ string
	createdAt                  int64
}

type opportunity struct {
	rec          simclient.LeverOpportunity
	applications []application
	phoneTypes   []string          // beside rec.Phones
	blobs        map[string][]byte // file id -> content
}

// Lever's default pipeline. The lead and applicant stages and "offer" have
// Lever's well-known ids; the interview stages get account-specific ones.
var defaultStages = []simclient.LeverStage{
	{ID: "lead-new", Text: "New lead"},
	{ID: "lead-reached-out", Text: "Reached out"},
	{ID: "lead-responded", Text: "Responded"},
	{ID: "applicant-new", Text: "New applicant"},
	{Text: "Recruiter screen"},
	{Text: "Phone interview"},
	{Text: "On-site interview"},
	{ID: "offer", Text: "Offer"},
}

var defaultReasons = []simclient.LeverArchiveReason{
	{Text: "Hired", Type: "hired"},
	{Text: "Underqualified", Type: "non-hired"},
	{Text: "Unresponsive", Type: "non-hired"},
	{Text: "Timing", Type: "non-hired"},
	{Text: "Withdrew", Type: "non-hired"},
	{Text: "Offer declined", Type: "non-hired"},
	{Text: "Position closed", Type: "non-hired"},
	{Text: "Position filled", Type: "non-hired"},
}

var postingStates = []string{simclient.LeverPublished, simclient.LeverInternal, simclient.LeverClosed, simclient.LeverDraft, simclient.LeverPending, simclient.LeverRejected}

var origins = []string{"agency", "applied", "internal", "referred", "sourced", "university"}

var accessRoles = []string{simclient.LeverSuperAdmin, simclient.LeverAdmin, simclient.LeverTeamMember, simclient.LeverLimitedTeamMember, simclient.LeverInterviewer}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", simcore.ErrInvalid, fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", simcore.ErrNotFound, fmt.Sprintf(format, args...))
}

// CreateAccount creates an account with its users, stages, reasons,
// postings and candidates.
func (s *Service) CreateAccount(in simclient.LeverAccount) (simclient.LeverAccount, error) {
	if strings.TrimSpace(in.Name) == "" {
		return simclient.LeverAccount{}, invalid("name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &account{id: s.ids.GUID("lever-account"), name: in.Name, contacts: map[string]*contact{}, byEmail: map[string]*contact{}}
	stages := in.Stages
	if stages == nil {
		stages = defaultStages
	}
	for _, st := range stages {
		if st.Text == "" {
			return simclient.LeverAccount{}, invalid("stage text is required")
		}
		if st.ID == "" {
			st.ID = s.ids.GUID("lever-stage")
		}
		a.stages = append(a.stages, st)
	}
	reasons := in.ArchiveReasons
	if reasons == nil {
		reasons = defaultReasons
	}
	for _, r := range reasons {
		if r.Text == "" {
			return simclient.LeverAccount{}, invalid("archive reason text is required")
		}
		if r.Type == "" {
			r.Type = "non-hired"
		}
		if r.Type != "hired" && r.Type != "non-hired" {
			return simclient.LeverAccount{}, invalid("archive reason type must be hired or non-hired")
		}
		if r.ID == "" {
			r.ID = s.ids.GUID("lever-reason")
		}
		a.reasons = append(a.reasons, r)
	}
	a.sources = slices.Clone(in.Sources)
	a.tags = slices.Clone(in.Tags)
	for _, u := range in.Users {
		if _, err := s.addUserLocked(a, u); err != nil {
			return simclient.LeverAccount{}, err
		}
	}
	for _, p := range in.Postings {
		if _, err := s.addPostingLocked(a, p); err != nil {
			return simclient.LeverAccount{}, err
		}
	}
	for _, c := range in.Candidates {
		if _, err := s.addCandidateLocked(a, c); err != nil {
			return simclient.LeverAccount{}, err
		}
	}
	s.accounts[a.id] = a
	s.order = append(s.order, a.id)
	return s.accountView(a), nil
}

func (s *Service) accountView(a *account) simclient.LeverAccount {
	out := simclient.LeverAccount{
		ID: a.id, Name: a.name,
		Stages: slices.Clone(a.stages), ArchiveReasons: slices.Clone(a.reasons),
		Sources: slices.Clone(a.sources), Tags: slices.Clone(a.tags),
	}
	for _, u := range a.users {
		out.Users = append(out.Users, userView(u))
	}
	for _, p := range a.postings {
		out.Postings = append(out.Postings, p.LeverPosting)
	}
	return out
}

func userView(u *user) simclient.LeverUser {
	v := u.LeverUser
	v.Password = ""
	return v
}

// Accounts lists the accounts.
func (s *Service) Accounts() []simclient.LeverAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simclient.LeverAccount{}
	for _, id := range s.order {
		out = append(out, s.accountView(s.accounts[id]))
	}
	return out
}

// Account returns an account by id or name.
func (s *Service) Account(idOrName string) (simclient.LeverAccount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(idOrName)
	if err != nil {
		return simclient.LeverAccount{}, err
	}
	return s.accountView(a), nil
}

func (s *Service) accountLocked(idOrName string) (*account, error) {
	if a, ok := s.accounts[idOrName]; ok {
		return a, nil
	}
	for _, id := range s.order {
		if strings.EqualFold(s.accounts[id].name, idOrName) {
			return s.accounts[id], nil
		}
	}
	return nil, notFound("no Lever account %s", idOrName)
}

// AddUser adds a user to an account.
func (s *Service) AddUser(accountID string, u simclient.LeverUser) (simclient.LeverUser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return simclient.LeverUser{}, err
	}
	out, err := s.addUserLocked(a, u)
	if err != nil {
		return simclient.LeverUser{}, err
	}
	return userView(out), nil
}

func (s *Service) addUserLocked(a *account, in simclient.LeverUser) (*user, error) {
	if in.Name == "" || !strings.Contains(in.Email, "@") {
		return nil, invalid("a user needs a name and an e-mail address")
	}
	if in.AccessRole == "" {
		in.AccessRole = simclient.LeverTeamMember
	}
	if !slices.Contains(accessRoles, in.AccessRole) {
		return nil, invalid("accessRole must be one of %s", strings.Join(accessRoles, ", "))
	}
	for _, other := range s.users {
		if strings.EqualFold(other.Email, in.Email) {
			return nil, fmt.Errorf("%w: a Lever user with e-mail %s exists", simcore.ErrConflict, in.Email)
		}
	}
	in.ID = s.ids.GUID("lever-user")
	in.AccountID = a.id
	u := &user{LeverUser: in, createdAt: s.nowMs()}
	if in.Deactivated {
		u.deactivatedAt = u.createdAt
	}
	a.users = append(a.users, u)
	s.users[u.ID] = u
	return u, nil
}

// AddPosting adds a posting to an account.
func (s *Service) AddPosting(accountID string, p simclient.LeverPosting) (simclient.LeverPosting, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return simclient.LeverPosting{}, err
	}
	out, err := s.addPostingLocked(a, p)
	if err != nil {
		return simclient.LeverPosting{}, err
	}
	return out.LeverPosting, nil
}

func (s *Service) addPostingLocked(a *account, in simclient.LeverPosting) (*posting, error) {
	if in.Text == "" {
		return nil, invalid("posting text is required")
	}
	if in.State == "" {
		in.State = simclient.LeverPublished
	}
	if !slices.Contains(postingStates, in.State) {
		return nil, invalid("posting state must be one of %s", strings.Join(postingStates, ", "))
	}
	p := &posting{}
	owner := a.userRef(in.Owner)
	if in.Owner != "" && owner == nil {
		return nil, invalid("no user %s in the account", in.Owner)
	}
	if owner == nil {
		owner = a.superAdmin()
	}
	if owner != nil {
		p.ownerID = owner.ID
		in.Owner = owner.ID
	}
	if in.HiringManager != "" {
		hm := a.userRef(in.HiringManager)
		if hm == nil {
			return nil, invalid("no user %s in the account", in.HiringManager)
		}
		p.hiringManagerID, in.HiringManager = hm.ID, hm.ID
	}
	in.ID = s.ids.GUID("lever-posting")
	p.LeverPosting = in
	p.createdAt = s.nowMs()
	p.updatedAt = p.createdAt
	a.postings = append(a.postings, p)
	return p, nil
}

func (a *account) userRef(idOrEmail string) *user {
	if idOrEmail == "" {
		return nil
	}
	for _, u := range a.users {
		if u.ID == idOrEmail || strings.EqualFold(u.Email, idOrEmail) {
			return u
		}
	}
	return nil
}

func (a *account) superAdmin() *user {
	for _, u := range a.users {
		if u.AccessRole == simclient.LeverSuperAdmin && u.deactivatedAt == 0 {
			return u
		}
	}
	return nil
}

func (a *account) stage(idOrText string) (simclient.LeverStage, bool) {
	for _, st := range a.stages {
		if st.ID == idOrText {
			return st, true
		}
	}
	for _, st := range a.stages {
		if strings.EqualFold(st.Text, idOrText) {
			return st, true
		}
	}
	return simclient.LeverStage{}, false
}

func (a *account) stageIndex(id string) int {
	return slices.IndexFunc(a.stages, func(st simclient.LeverStage) bool { return st.ID == id })
}

func (a *account) reason(idOrText string) (simclient.LeverArchiveReason, bool) {
	for _, r := range a.reasons {
		if r.ID == idOrText {
			return r, true
		}
	}
	for _, r := range a.reasons {
		if strings.EqualFold(r.Text, idOrText) {
			return r, true
		}
	}
	return simclient.LeverArchiveReason{}, false
}

func (a *account) posting(idOrText string) *posting {
	for _, p := range a.postings {
		if p.ID == idOrText {
			return p
		}
	}
	for _, p := range a.postings {
		if strings.EqualFold(p.Text, idOrText) {
			return p
		}
	}
	return nil
}

// contactFor finds the contact an opportunity with emails belongs to:
// Lever de-duplicates candidates on e-mail address.
func (a *account) contactFor(emails []string) *contact {
	for _, e := range emails {
		if c := a.byEmail[strings.ToLower(e)]; c != nil {
			return c
		}
	}
	return nil
}

// addCandidateLocked creates an opportunity from the control API: no
// webhooks fire, as for data that was there before a webhook existed.
func (s *Service) addCandidateLocked(a *account, c simclient.LeverCandidate) (*opportunity, error) {
	owner := a.userRef(c.Owner)
	if owner == nil {
		owner = a.superAdmin()
	}
	if owner == nil {
		return nil, invalid("the account needs a Super Admin or an owner for candidates")
	}
	in := createInput{
		Name: c.Name, Headline: c.Headline, Location: c.Location, Emails: c.Emails, Links: c.Links,
		Tags: c.Tags, Sources: c.Sources, Origin: c.Origin, Stage: c.Stage,
	}
	for _, p := range c.Phones {
		in.Phones = append(in.Phones, phone{Value: p})
	}
	if c.Posting != "" {
		p := a.posting(c.Posting)
		if p == nil {
			return nil, invalid("no posting %s", c.Posting)
		}
		in.Postings = []string{p.ID}
	}
	if c.Stage != "" {
		st, ok := a.stage(c.Stage)
		if !ok {
			return nil, invalid("no stage %s", c.Stage)
		}
		in.Stage = st.ID
	}
	o, _, err := s.createOpportunityLocked(a, owner, in, "control")
	if err != nil {
		return nil, err
	}
	if c.ArchiveReason != "" {
		r, ok := a.reason(c.ArchiveReason)
		if !ok {
			return nil, invalid("no archive reason %s", c.ArchiveReason)
		}
		o.rec.ArchivedAt, o.rec.ArchiveReasonID = o.rec.CreatedAt, r.ID
	}
	return o, nil
}

// AddCandidate creates an opportunity in an account without webhooks.
func (s *Service) AddCandidate(accountID string, c simclient.LeverCandidate) (simclient.LeverOpportunity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return simclient.LeverOpportunity{}, err
	}
	o, err := s.addCandidateLocked(a, c)
	if err != nil {
		return simclient.LeverOpportunity{}, err
	}
	return o.view(), nil
}

func (o *opportunity) view() simclient.LeverOpportunity {
	v := o.rec
	v.Emails = slices.Clone(v.Emails)
	v.Phones = slices.Clone(v.Phones)
	v.Links = slices.Clone(v.Links)
	v.Tags = slices.Clone(v.Tags)
	v.Sources = slices.Clone(v.Sources)
	v.PostingIDs = slices.Clone(v.PostingIDs)
	v.ApplicationIDs = slices.Clone(v.ApplicationIDs)
	v.FollowerIDs = slices.Clone(v.FollowerIDs)
	v.StageChanges = slices.Clone(v.StageChanges)
	v.History = slices.Clone(v.History)
	v.Files = slices.Clone(v.Files)
	v.Notes = make([]simclient.LeverNote, len(o.rec.Notes))
	for i, n := range o.rec.Notes {
		n.Comments = slices.Clone(n.Comments)
		v.Notes[i] = n
	}
	return v
}

// Opportunities lists the opportunities of an account as stored.
func (s *Service) Opportunities(accountID string) ([]simclient.LeverOpportunity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return nil, err
	}
	out := []simclient.LeverOpportunity{}
	for _, o := range a.opps {
		out = append(out, o.view())
	}
	return out, nil
}

// Opportunity returns one opportunity as stored, deleted ones included.
func (s *Service) Opportunity(id string) (simclient.LeverOpportunity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.opps[id]
	if !ok {
		return simclient.LeverOpportunity{}, notFound("no opportunity %s", id)
	}
	return o.view(), nil
}
