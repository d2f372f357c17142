package ashby

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// defaultStages is the plan Ashby gives a new organization.
var defaultStages = []simclient.AshbyStage{
	{Title: "Lead", Type: "Lead"},
	{Title: "Application Review", Type: "PreInterviewScreen"},
	{Title: "Phone Screen", Type: "Active"},
	{Title: "Onsite", Type: "Active"},
	{Title: "Offer", Type: "Offer"},
	{Title: "Hired", Type: "Hired"},
	{Title: "Archived", Type: "Archived"},
}

var stageTypes = []string{"Lead", "PreInterviewScreen", "Active", "Offer", "Hired", "Archived"}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{simcore.ErrInvalid}, args...)...)
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{simcore.ErrNotFound}, args...)...)
}

// CreateOrg creates an organization and everything listed with it.
func (s *Service) CreateOrg(in simclient.AshbyOrg) (simclient.AshbyOrg, error) {
	if strings.TrimSpace(in.Name) == "" {
		return simclient.AshbyOrg{}, bad("name is required")
	}
	s.mu.Lock()
	for _, o := range s.w.orgOrder {
		if strings.EqualFold(o.name, in.Name) {
			s.mu.Unlock()
			return simclient.AshbyOrg{}, fmt.Errorf("%w: an organization named %q exists", simcore.ErrConflict, in.Name)
		}
	}
	o := &org{id: s.ids.GUID("ashby-org"), name: in.Name}
	s.w.orgs[o.id] = o
	s.w.orgOrder = append(s.w.orgOrder, o)
	s.mu.Unlock()
	if len(in.InterviewPlans) == 0 {
		in.InterviewPlans = []simclient.AshbyInterviewPlan{{Title: "Default Interview Plan"}}
	}
	if _, err := s.AddToOrg(o.id, in); err != nil {
		s.mu.Lock()
		delete(s.w.orgs, o.id)
		s.w.orgOrder = slices.DeleteFunc(s.w.orgOrder, func(x *org) bool { return x == o })
		s.mu.Unlock()
		return simclient.AshbyOrg{}, err
	}
	return s.Org(o.id)
}

func (s *Service) orgLocked(idOrName string) (*org, error) {
	if o := s.w.orgs[idOrName]; o != nil {
		return o, nil
	}
	for _, o := range s.w.orgOrder {
		if strings.EqualFold(o.name, idOrName) {
			return o, nil
		}
	}
	return nil, notFound("no organization %s", idOrName)
}

// AddToOrg adds users, plans, jobs, sources, reasons, templates,
// candidates, applications, webhooks and API keys to an organization, in
// that order, so later ones may name earlier ones by title or email.
func (s *Service) AddToOrg(idOrName string, in simclient.AshbyOrg) (simclient.AshbyOrg, error) {
	var events []event
	s.mu.Lock()
	out, err := s.addLocked(idOrName, in, &events)
	s.mu.Unlock()
	s.hooks.enqueue(events)
	return out, err
}

func (s *Service) addLocked(idOrName string, in simclient.AshbyOrg, events *[]event) (simclient.AshbyOrg, error) {
	o, err := s.orgLocked(idOrName)
	if err != nil {
		return simclient.AshbyOrg{}, err
	}
	now := s.clock.Now()
	var out simclient.AshbyOrg
	out.ID, out.Name = o.id, o.name
	for _, u := range in.Users {
		if !validEmail(u.Email) {
			return out, bad("user email %q is not valid", u.Email)
		}
		x := &user{orgID: o.id, firstName: u.FirstName, lastName: u.LastName, email: u.Email, globalRole: u.GlobalRole, enabled: u.IsEnabled == nil || *u.IsEnabled, managerID: u.ManagerID}
		if x.globalRole == "" {
			x.globalRole = "Elevated Access"
			if len(o.users) == 0 {
				x.globalRole = "Organization Admin"
			}
		}
		s.w.born(&x.meta, s.ids.GUID("ashby-user"), now)
		s.w.users[x.id] = x
		o.users = append(o.users, x)
		out.Users = append(out.Users, userView(x))
	}
	for _, p := range in.InterviewPlans {
		x, err := s.addPlan(o, p, now)
		if err != nil {
			return out, err
		}
		out.InterviewPlans = append(out.InterviewPlans, planView(x))
	}
	for _, j := range in.Jobs {
		x, err := s.addJob(o, j, now)
		if err != nil {
			return out, err
		}
		out.Jobs = append(out.Jobs, jobView(x))
	}
	for _, src := range in.Sources {
		x := s.addSource(o, src)
		out.Sources = append(out.Sources, sourceView(x))
	}
	for _, r := range in.ArchiveReasons {
		x := &archiveReason{id: s.ids.GUID("ashby-archive-reason"), orgID: o.id, text: r.Text, reasonType: r.ReasonType, archived: r.IsArchived}
		if x.reasonType == "" {
			x.reasonType = "RejectedByOrg"
		}
		if !slices.Contains([]string{"RejectedByCandidate", "RejectedByOrg", "Other"}, x.reasonType) {
			return out, bad("reasonType %q is not RejectedByCandidate, RejectedByOrg or Other", x.reasonType)
		}
		s.w.reasons[x.id] = x
		o.reasons = append(o.reasons, x)
		out.ArchiveReasons = append(out.ArchiveReasons, reasonView(x))
	}
	for _, t := range in.Templates {
		x := &template{id: s.ids.GUID("ashby-template"), orgID: o.id, title: t.Title}
		s.w.templates[x.id] = x
		o.templates = append(o.templates, x)
		out.Templates = append(out.Templates, simclient.AshbyTemplate{ID: x.id, Title: x.title})
	}
	for _, c := range in.Candidates {
		x, err := s.addCandidate(o, c, now, events)
		if err != nil {
			return out, err
		}
		out.Candidates = append(out.Candidates, s.candidateView(x))
	}
	for _, a := range in.Applications {
		c := s.w.candidates[a.CandidateID]
		if c == nil || c.orgID != o.id {
			return out, notFound("no candidate %s", a.CandidateID)
		}
		x, err := s.addApplication(o, c, a, now, events)
		if err != nil {
			return out, err
		}
		out.Applications = append(out.Applications, s.applicationView(x))
	}
	for _, h := range in.Webhooks {
		if !slices.Contains(webhookTypes, h.WebhookType) && !slices.Contains(uiOnlyWebhookTypes, h.WebhookType) {
			return out, bad("webhookType %q is unknown", h.WebhookType)
		}
		if !checkURL(h.RequestURL) {
			return out, bad("requestUrl %q is not an absolute URL", h.RequestURL)
		}
		x := s.addWebhook(o, h.WebhookType, h.RequestURL, h.SecretToken)
		out.Webhooks = append(out.Webhooks, webhookView(x))
	}
	for _, k := range in.APIKeys {
		x, err := s.addKey(o, k, now)
		if err != nil {
			return out, err
		}
		out.APIKeys = append(out.APIKeys, keyView(x))
	}
	return out, nil
}

func (s *Service) addPlan(o *org, p simclient.AshbyInterviewPlan, now time.Time) (*plan, error) {
	if p.Title == "" {
		return nil, bad("an interview plan needs a title")
	}
	stages := p.Stages
	if len(stages) == 0 {
		stages = defaultStages
	}
	x := &plan{orgID: o.id, title: p.Title, archived: p.IsArchived}
	s.w.born(&x.meta, s.ids.GUID("ashby-plan"), now)
	groups := map[string]string{}
	for i, st := range stages {
		if !slices.Contains(stageTypes, st.Type) {
			return nil, bad("stage type %q is not one of %s", st.Type, strings.Join(stageTypes, ", "))
		}
		if groups[st.Type] == "" {
			groups[st.Type] = s.ids.GUID("ashby-stage-group")
		}
		title := st.Title
		if title == "" {
			title = st.Type
		}
		y := &stage{id: s.ids.GUID("ashby-stage"), planID: x.id, title: title, typ: st.Type, groupID: groups[st.Type], order: i}
		x.stages = append(x.stages, y)
		s.w.stages[y.id] = y
	}
	s.w.plans[x.id] = x
	o.plans = append(o.plans, x)
	return x, nil
}

func (s *Service) planByRef(o *org, ref string) *plan {
	for _, p := range o.plans {
		if p.id == ref || strings.EqualFold(p.title, ref) {
			return p
		}
	}
	return nil
}

func (s *Service) addJob(o *org, j simclient.AshbyJob, now time.Time) (*job, error) {
	if j.Title == "" {
		return nil, bad("a job needs a title")
	}
	x := &job{orgID: o.id, title: j.Title, status: j.Status, employmentType: j.EmploymentType, confidential: j.Confidential, requisitionID: j.CustomRequisitionID}
	if x.status == "" {
		x.status = "Open"
	}
	if !slices.Contains(jobStatuses, x.status) {
		return nil, bad("job status %q is not one of Draft, Open, Closed, Archived", x.status)
	}
	if x.employmentType == "" {
		x.employmentType = "FullTime"
	}
	for _, ref := range j.InterviewPlans {
		p := s.planByRef(o, ref)
		if p == nil {
			return nil, notFound("no interview plan %s", ref)
		}
		x.planIDs = append(x.planIDs, p.id)
	}
	if len(x.planIDs) == 0 {
		if len(o.plans) == 0 {
			return nil, bad("the organization has no interview plan for job %q", j.Title)
		}
		x.planIDs = []string{o.plans[0].id}
	}
	if len(o.users) > 0 {
		x.authorID = o.users[0].id
	}
	s.w.born(&x.meta, s.ids.GUID("ashby-job"), now)
	x.openedAt, x.closedAt = j.OpenedAt, j.ClosedAt
	if x.status != "Draft" && x.openedAt.IsZero() {
		x.openedAt = now
	}
	if (x.status == "Closed" || x.status == "Archived") && x.closedAt.IsZero() {
		x.closedAt = now
	}
	s.w.jobs[x.id] = x
	o.jobs = append(o.jobs, x)
	return x, nil
}

func (s *Service) addSource(o *org, src simclient.AshbySource) *source {
	typeTitle := src.SourceType
	if typeTitle == "" {
		typeTitle = "Other"
	}
	var t *sourceType
	for _, x := range o.sourceTypes {
		if strings.EqualFold(x.title, typeTitle) {
			t = x
		}
	}
	if t == nil {
		t = &sourceType{id: s.ids.GUID("ashby-source-type"), title: typeTitle, archived: src.TypeIsArchived}
		o.sourceTypes = append(o.sourceTypes, t)
	}
	x := &source{id: s.ids.GUID("ashby-source"), orgID: o.id, title: src.Title, archived: src.IsArchived, typ: t}
	s.w.sources[x.id] = x
	o.sources = append(o.sources, x)
	return x
}

func (s *Service) sourceByRef(o *org, ref string) *source {
	for _, x := range o.sources {
		if x.id == ref || strings.EqualFold(x.title, ref) {
			return x
		}
	}
	return nil
}

func (s *Service) addCandidate(o *org, c simclient.AshbyCandidate, now time.Time, events *[]event) (*candidate, error) {
	if strings.TrimSpace(c.Name) == "" {
		return nil, bad("a candidate needs a name")
	}
	f := candidateFields{Name: &c.Name}
	if len(c.Emails) > 0 {
		f.Email = &c.Emails[0]
		f.AlternateEmailAddresses = c.Emails[1:]
	}
	for _, e := range c.Emails {
		if !validEmail(e) {
			return nil, bad("email %q is not valid", e)
		}
	}
	if c.Phone != "" {
		f.PhoneNumber = &c.Phone
	}
	if c.LinkedInURL != "" {
		f.LinkedInURL = &c.LinkedInURL
	}
	if c.Position != "" {
		f.Position = &c.Position
	}
	if c.Company != "" {
		f.Company = &c.Company
	}
	if c.Source != "" {
		src := s.sourceByRef(o, c.Source)
		if src == nil {
			return nil, notFound("no source %s", c.Source)
		}
		f.SourceID = &src.id
	}
	if !c.CreatedAt.IsZero() {
		t := c.CreatedAt.UTC().Format(time.RFC3339Nano)
		f.CreatedAt = &t
	}
	x := s.newCandidate(o, f, "", now)
	for _, a := range c.Applications {
		if _, err := s.addApplication(o, x, a, now, events); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func (s *Service) addApplication(o *org, c *candidate, a simclient.AshbyApplication, now time.Time, events *[]event) (*application, error) {
	ref := a.Job
	if ref == "" {
		ref = a.JobID
	}
	var j *job
	for _, x := range o.jobs {
		if x.id == ref || strings.EqualFold(x.title, ref) {
			j = x
		}
	}
	if j == nil {
		return nil, notFound("no job %s", ref)
	}
	p := s.w.plans[first(j.planIDs)]
	st := firstOfType(p, "Lead")
	if a.Stage != "" {
		st = nil
		for _, x := range p.stages {
			if x.id == a.Stage || strings.EqualFold(x.title, a.Stage) || x.typ == a.Stage {
				st = x
				break
			}
		}
		if st == nil {
			return nil, notFound("the plan of job %s has no stage %s", j.title, a.Stage)
		}
	}
	if st == nil {
		st = p.stages[0]
	}
	actor := ""
	if len(o.users) > 0 {
		actor = o.users[0].id
	}
	srcID := a.SourceID
	if srcID == "" {
		srcID = c.sourceID
	}
	x := s.newApplication(o, c, j, p, st, srcID, "", "", actor, now, now)
	if st.typ == "Archived" && len(o.reasons) > 0 {
		x.archiveReasonID = o.reasons[0].id
	}
	if a.ViaJobBoard {
		s.chain(events, o, []string{"applicationSubmit"}, object{"application": s.applicationJSON(x)})
	}
	return x, nil
}

func (s *Service) addKey(o *org, k simclient.AshbyAPIKey, now time.Time) (*apiKey, error) {
	perms := k.Permissions
	if perms == nil {
		perms = simclient.AshbyWriteAll()
	}
	for mod, level := range perms {
		if !slices.Contains(simclient.AshbyAllModules, mod) {
			return nil, bad("module %q is not one of %s", mod, strings.Join(simclient.AshbyAllModules, ", "))
		}
		if level != "read" && level != "write" {
			return nil, bad("permission %q of %s is not read or write", level, mod)
		}
	}
	title := k.Title
	if title == "" {
		title = "API key"
	}
	x := &apiKey{id: s.ids.GUID("ashby-key-id"), orgID: o.id, title: title, secret: k.Key, perms: map[string]string{}, userID: k.UserID, confidential: k.Confidential, created: now}
	for m, l := range perms {
		x.perms[m] = l
	}
	if x.secret == "" {
		x.secret = s.ids.Token("ashby-key", 24)
	}
	if s.w.keysBySecret[x.secret] != nil {
		return nil, fmt.Errorf("%w: that key exists", simcore.ErrConflict)
	}
	if x.userID == "" && len(o.users) > 0 {
		x.userID = o.users[0].id
	}
	s.w.keys[x.id] = x
	s.w.keysBySecret[x.secret] = x
	o.keys = append(o.keys, x)
	return x, nil
}
