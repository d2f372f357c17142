package ashby

import (
	"sort"
	"strings"
)

type archivedFilter struct {
	IncludeArchived bool `json:"includeArchived"`
}

func (s *Service) interviewPlanList(req *request) (any, *apiError) {
	var in struct {
		pageIn
		archivedFilter
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	return paginate(s, req, in.pageIn, in.archivedFilter, true, func(f archivedFilter) []pageItem {
		var out []pageItem
		for _, p := range req.org.plans {
			if p.archived && !f.IncludeArchived {
				continue
			}
			out = append(out, pageItem{ord: p.ord, seq: p.seq, render: func() any { return planJSON(p) }})
		}
		return out
	})
}

func (s *Service) interviewStageList(req *request) (any, *apiError) {
	var in struct {
		InterviewPlanID string `json:"interviewPlanId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.InterviewPlanID == "" {
		return nil, invalid("interviewPlanId is required.")
	}
	p := s.w.plans[in.InterviewPlanID]
	if p == nil || p.orgID != req.org.id {
		return nil, fail("interview_plan_not_found", "No interview plan with id %s.", in.InterviewPlanID)
	}
	out := make([]any, 0, len(p.stages))
	for _, st := range p.stages {
		out = append(out, stageJSON(st))
	}
	return out, nil
}

func (s *Service) interviewStageInfo(req *request) (any, *apiError) {
	var in struct {
		InterviewStageID string `json:"interviewStageId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.InterviewStageID == "" {
		return nil, invalid("interviewStageId is required.")
	}
	st := s.w.stages[in.InterviewStageID]
	if st == nil || s.w.plans[st.planID].orgID != req.org.id {
		return nil, fail("interview_stage_not_found", "No interview stage with id %s.", in.InterviewStageID)
	}
	return stageJSON(st), nil
}

func (s *Service) sourceList(req *request) (any, *apiError) {
	var in archivedFilter
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	out := []any{}
	for _, src := range req.org.sources {
		if (src.archived || src.typ.archived) && !in.IncludeArchived {
			continue
		}
		out = append(out, sourceJSON(src))
	}
	return out, nil
}

func (s *Service) archiveReasonList(req *request) (any, *apiError) {
	var in archivedFilter
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	out := []any{}
	for _, r := range req.org.reasons {
		if r.archived && !in.IncludeArchived {
			continue
		}
		out = append(out, reasonJSON(r))
	}
	return out, nil
}

func (s *Service) userSearch(req *request) (any, *apiError) {
	var in struct {
		Email string `json:"email"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if strings.TrimSpace(in.Email) == "" {
		return nil, invalid("email is required.")
	}
	out := []any{}
	for _, u := range req.org.users {
		if strings.EqualFold(u.email, strings.TrimSpace(in.Email)) {
			out = append(out, s.userJSON(u))
		}
	}
	return out, nil
}

type userFilter struct {
	IncludeDeactivated bool `json:"includeDeactivated"`
}

func (s *Service) userList(req *request) (any, *apiError) {
	var in struct {
		pageIn
		userFilter
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	return paginate(s, req, in.pageIn, in.userFilter, true, func(f userFilter) []pageItem {
		var out []pageItem
		for _, u := range req.org.users {
			if !u.enabled && !f.IncludeDeactivated {
				continue
			}
			out = append(out, pageItem{ord: u.ord, seq: u.seq, render: func() any { return s.userJSON(u) }})
		}
		return out
	})
}

func (s *Service) userInfo(req *request) (any, *apiError) {
	var in struct {
		UserID string `json:"userId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.UserID == "" {
		return nil, invalid("userId is required.")
	}
	u := s.w.users[in.UserID]
	if u == nil || u.orgID != req.org.id {
		return nil, fail("user_not_found", "No user with id %s.", in.UserID)
	}
	return s.userJSON(u), nil
}

// apiKeyInfo answers for the calling key. Its scopes are the permission
// names of the spec (candidatesRead, candidatesWrite, ...).
func (s *Service) apiKeyInfo(req *request) (any, *apiError) {
	var scopes []string
	for mod, level := range req.key.perms {
		scopes = append(scopes, mod+"Read")
		if level == "write" {
			scopes = append(scopes, mod+"Write")
		}
	}
	sort.Strings(scopes)
	return object{"title": req.key.title, "createdAt": ts(req.key.created), "scopes": scopes}, nil
}
