package lever

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// The account's reference data: stages, postings, users, sources, tags and
// archive reasons.

func (s *Service) listStages(c *call) *apiError {
	s.mu.Lock()
	items := slices.Clone(c.account.stages)
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) getStage(c *call) *apiError {
	s.mu.Lock()
	st, ok := c.account.stage(c.r.PathValue("id"))
	s.mu.Unlock()
	if !ok || st.ID != c.r.PathValue("id") {
		return notFoundErr("Stage not found")
	}
	return c.data(http.StatusOK, st)
}

func (s *Service) listArchiveReasons(c *call) *apiError {
	typ := c.r.URL.Query().Get("type")
	if typ != "" && typ != "hired" && typ != "non-hired" {
		return badRequest("Invalid type: must be hired or non-hired")
	}
	s.mu.Lock()
	items := []map[string]any{}
	for _, r := range c.account.reasons {
		if typ == "" || r.Type == typ {
			items = append(items, renderReason(r))
		}
	}
	s.mu.Unlock()
	return page(c, items)
}

func renderReason(r simclient.LeverArchiveReason) map[string]any {
	return map[string]any{"id": r.ID, "text": r.Text, "status": "active", "type": r.Type}
}

func (s *Service) getArchiveReason(c *call) *apiError {
	s.mu.Lock()
	r, ok := c.account.reason(c.r.PathValue("id"))
	s.mu.Unlock()
	if !ok || r.ID != c.r.PathValue("id") {
		return notFoundErr("Archive reason not found")
	}
	return c.data(http.StatusOK, renderReason(r))
}

func renderUser(u *user) map[string]any {
	if u == nil {
		return nil
	}
	var deactivated any
	if u.deactivatedAt != 0 {
		deactivated = u.deactivatedAt
	}
	username, _, _ := strings.Cut(u.Email, "@")
	return map[string]any{
		"id": u.ID, "name": u.Name, "username": username, "email": u.Email, "accessRole": u.AccessRole,
		"photo": nil, "createdAt": u.createdAt, "deactivatedAt": deactivated, "externalDirectoryId": nil,
		"linkedContactIds": []string{}, "jobTitle": u.JobTitle, "managerId": nil,
	}
}

// listUsers serves GET /users: email= matches exactly (case-insensitive);
// deactivated users only with includeDeactivated=true.
func (s *Service) listUsers(c *call) *apiError {
	q := c.r.URL.Query()
	emails := q["email"]
	roles := q["access_role"]
	withDeactivated := q.Get("includeDeactivated") == "true"
	s.mu.Lock()
	items := []map[string]any{}
	for _, u := range c.account.users {
		if u.deactivatedAt != 0 && !withDeactivated {
			continue
		}
		if len(emails) > 0 && !slices.ContainsFunc(emails, func(e string) bool { return strings.EqualFold(e, u.Email) }) {
			continue
		}
		if len(roles) > 0 && !slices.Contains(roles, u.AccessRole) {
			continue
		}
		items = append(items, renderUser(u))
	}
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) getUser(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[c.r.PathValue("id")]
	if u == nil || u.AccountID != c.account.id {
		return notFoundErr("User not found")
	}
	return c.data(http.StatusOK, renderUser(u))
}

// counted renders Lever's {text, count} lists of tags and sources: every
// value known to the account, with the opportunities that carry it.
func counted(known []string, opps []*opportunity, pick func(*opportunity) []string) []map[string]any {
	out := []map[string]any{}
	for _, k := range known {
		n := 0
		for _, o := range opps {
			if !o.rec.Deleted && slices.ContainsFunc(pick(o), func(x string) bool { return strings.EqualFold(x, k) }) {
				n++
			}
		}
		out = append(out, map[string]any{"text": k, "count": n})
	}
	return out
}

func (s *Service) listSources(c *call) *apiError {
	s.mu.Lock()
	items := counted(c.account.sources, c.account.opps, func(o *opportunity) []string { return o.rec.Sources })
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) listTags(c *call) *apiError {
	s.mu.Lock()
	items := counted(c.account.tags, c.account.opps, func(o *opportunity) []string { return o.rec.Tags })
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) renderPosting(p *posting) map[string]any {
	channels := []string{}
	switch p.State {
	case simclient.LeverPublished:
		channels = []string{"public", "internal"}
	case simclient.LeverInternal:
		channels = []string{"internal"}
	}
	var hm, owner any
	if p.hiringManagerID != "" {
		hm = p.hiringManagerID
	}
	if p.ownerID != "" {
		owner = p.ownerID
	}
	tags := p.Tags
	if tags == nil {
		tags = []string{}
	}
	reqCodes := []string{}
	if p.ReqCode != "" {
		reqCodes = []string{p.ReqCode}
	}
	all := []string{}
	if p.Location != "" {
		all = []string{p.Location}
	}
	workplace := p.WorkplaceType
	if workplace == "" {
		workplace = "unspecified"
	}
	return map[string]any{
		"id": p.ID, "text": p.Text, "state": p.State, "distributionChannels": channels, "confidentiality": "non-confidential",
		"user": owner, "owner": owner, "hiringManager": hm,
		"categories": map[string]any{
			"team": p.Team, "department": p.Department, "location": p.Location, "allLocations": all,
			"commitment": p.Commitment, "level": p.Level,
		},
		"content": map[string]any{
			"description": p.Description, "descriptionHtml": "<div>" + p.Description + "</div>",
			"lists": []any{}, "closing": "", "closingHtml": "",
		},
		"tags": tags, "reqCode": p.ReqCode, "requisitionCodes": reqCodes, "salaryRange": nil,
		"workplaceType": workplace, "createdAt": p.createdAt, "updatedAt": p.updatedAt,
		"followers": []string{},
		"urls": map[string]string{
			"list": s.apiURL + "/jobs", "show": s.apiURL + "/jobs/" + p.ID, "apply": s.apiURL + "/jobs/" + p.ID + "/apply",
		},
	}
}

// listPostings serves GET /postings with Lever's filters: state, team,
// department, location, commitment, level (each repeatable).
func (s *Service) listPostings(c *call) *apiError {
	q := c.r.URL.Query()
	for _, st := range q["state"] {
		if !slices.Contains(postingStates, st) {
			return badRequest("Invalid state: must be one of " + strings.Join(postingStates, ", "))
		}
	}
	match := func(key, have string) bool {
		vals := q[key]
		return len(vals) == 0 || slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, have) })
	}
	s.mu.Lock()
	items := []map[string]any{}
	for _, p := range c.account.postings {
		if match("state", p.State) && match("team", p.Team) && match("department", p.Department) &&
			match("location", p.Location) && match("commitment", p.Commitment) && match("level", p.Level) {
			items = append(items, s.renderPosting(p))
		}
	}
	s.mu.Unlock()
	return page(c, items)
}

func (s *Service) getPosting(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := c.account.posting(c.r.PathValue("id"))
	if p == nil || p.ID != c.r.PathValue("id") {
		return notFoundErr("Posting not found")
	}
	return c.data(http.StatusOK, s.renderPosting(p))
}
