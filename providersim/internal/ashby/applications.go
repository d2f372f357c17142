package ashby

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// firstPreInterviewScreen is the special interviewStageId of
// application.create.
const firstPreInterviewScreen = "FirstPreInterviewScreen"

func (s *Service) application(req *request, field, id string) (*application, *apiError) {
	if id == "" {
		return nil, invalid("%s is required.", field)
	}
	a := s.w.applications[id]
	if a == nil || a.orgID != req.org.id || !req.sees(s.w.jobs[a.jobID]) {
		return nil, fail("application_not_found", "No application with id %s.", id)
	}
	return a, nil
}

func firstOfType(p *plan, typ string) *stage {
	for _, st := range p.stages {
		if st.typ == typ {
			return st
		}
	}
	return nil
}

// newApplication stores an application at a stage (all checked) and its
// first history entry.
func (s *Service) newApplication(o *org, c *candidate, j *job, p *plan, st *stage, sourceID, creditedTo, keyID, actorID string, created, now time.Time) *application {
	a := &application{orgID: o.id, candidateID: c.id, jobID: j.id, planID: p.id, stageID: st.id, sourceID: sourceID, creditedTo: creditedTo, createdByKeyID: keyID}
	s.w.born(&a.meta, s.ids.GUID("ashby-application"), now)
	a.created = created
	if st.typ == "Archived" {
		a.archivedAt = now
	}
	s.addHistory(a, st, actorID, created)
	s.w.applications[a.id] = a
	o.applications = append(o.applications, a)
	c.applicationIDs = append(c.applicationIDs, a.id)
	if c.sourceID == "" && sourceID != "" {
		c.sourceID = sourceID
	}
	s.w.touch(&c.meta, now)
	return a
}

func (s *Service) addHistory(a *application, st *stage, actorID string, at time.Time) {
	if n := len(a.history); n > 0 {
		a.history[n-1].leftAt = at
	}
	h := &historyEntry{stageID: st.id, title: st.title, number: st.order, enteredAt: at, actorID: actorID}
	s.w.born(&h.meta, s.ids.GUID("ashby-history"), at)
	a.history = append(a.history, h)
}

func (s *Service) applicationCreate(req *request) (any, *apiError) {
	var in struct {
		CandidateID      string  `json:"candidateId"`
		JobID            string  `json:"jobId"`
		InterviewPlanID  string  `json:"interviewPlanId"`
		InterviewStageID string  `json:"interviewStageId"`
		SourceID         *string `json:"sourceId"`
		CreditedToUserID *string `json:"creditedToUserId"`
		CreatedAt        *string `json:"createdAt"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	c, e := s.candidate(req, "candidateId", in.CandidateID)
	if e != nil {
		return nil, e
	}
	j, e := s.job(req, "jobId", in.JobID)
	if e != nil {
		return nil, e
	}
	planID := first(j.planIDs)
	if in.InterviewPlanID != "" {
		if !slices.Contains(j.planIDs, in.InterviewPlanID) {
			return nil, fail("interview_plan_not_found", "The job %s has no interview plan %s.", j.id, in.InterviewPlanID)
		}
		planID = in.InterviewPlanID
	}
	p := s.w.plans[planID]
	if p == nil {
		return nil, fail("interview_plan_not_found", "The job %s has no interview plan.", j.id)
	}
	var st *stage
	switch in.InterviewStageID {
	case "":
		if st = firstOfType(p, "Lead"); st == nil {
			st = p.stages[0]
		}
	case firstPreInterviewScreen:
		if st = firstOfType(p, "PreInterviewScreen"); st == nil {
			return nil, fail("interview_stage_not_found", "The interview plan %s has no PreInterviewScreen stage.", p.id)
		}
	default:
		if st = s.w.stages[in.InterviewStageID]; st == nil || st.planID != p.id {
			return nil, fail("interview_stage_not_found", "The interview plan %s has no stage %s.", p.id, in.InterviewStageID)
		}
	}
	if e := s.checkSource(req, in.SourceID); e != nil {
		return nil, e
	}
	if e := s.checkUser(req, "creditedToUserId", in.CreditedToUserID); e != nil {
		return nil, e
	}
	created := req.now
	if in.CreatedAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.CreatedAt)
		if err != nil {
			return nil, invalid("createdAt must be an ISO 8601 date and time.")
		}
		created = t.UTC()
	}
	// UNCONFIRMED: Ashby keeps one application per candidate and job; a
	// second is refused as invalid input.
	for _, id := range c.applicationIDs {
		if other := s.w.applications[id]; other != nil && other.jobID == j.id {
			return nil, invalid("The candidate %s already has an application (%s) for the job %s.", c.id, other.id, j.id)
		}
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	a := s.newApplication(req.org, c, j, p, st, deref(in.SourceID), deref(in.CreditedToUserID), req.key.id, req.key.userID, created, req.now)
	if s.Settings().SubmitOnAPICreate == "true" {
		s.chain(&req.events, s.w.orgs[a.orgID], []string{"applicationSubmit"}, object{"application": s.applicationJSON(a)})
	}
	return s.applicationJSON(a), nil
}

// moveStage moves an application and records the webhooks it fires: a stage
// change also fires applicationUpdate, a hire candidateHire as well, all
// with one webhookActionId.
func (s *Service) moveStage(events *[]event, a *application, st *stage, reasonID, actorID string, now time.Time) {
	a.stageID = st.id
	if st.typ == "Archived" {
		a.archiveReasonID, a.archivedAt = reasonID, now
	} else {
		a.archiveReasonID, a.archivedAt = "", time.Time{}
	}
	s.addHistory(a, st, actorID, now)
	s.w.touch(&a.meta, now)
	if c := s.w.candidates[a.candidateID]; c != nil {
		s.w.touch(&c.meta, now)
	}
	data := object{"application": s.applicationJSON(a)}
	actions := []string{"candidateStageChange", "applicationUpdate"}
	if st.typ == "Hired" {
		actions = []string{"candidateHire", "candidateStageChange", "applicationUpdate"}
	}
	s.chain(events, s.w.orgs[a.orgID], actions, data)
}

func (s *Service) applicationChangeStage(req *request) (any, *apiError) {
	var in struct {
		ApplicationID    string  `json:"applicationId"`
		InterviewStageID string  `json:"interviewStageId"`
		ArchiveReasonID  *string `json:"archiveReasonId"`
		ArchiveEmail     *struct {
			CommunicationTemplateID string  `json:"communicationTemplateId"`
			SendAt                  *string `json:"sendAt"`
		} `json:"archiveEmail"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	a, e := s.application(req, "applicationId", in.ApplicationID)
	if e != nil {
		return nil, e
	}
	if in.InterviewStageID == "" {
		return nil, invalid("interviewStageId is required.")
	}
	st := s.w.stages[in.InterviewStageID]
	if st == nil || st.planID != a.planID {
		return nil, fail("interview_stage_not_found", "The application's interview plan %s has no stage %s; stage ids differ per plan.", a.planID, in.InterviewStageID)
	}
	reasonID := ""
	if st.typ == "Archived" {
		if in.ArchiveReasonID == nil || *in.ArchiveReasonID == "" {
			return nil, invalid("archiveReasonId is required when moving to an Archived stage.")
		}
		r := s.w.reasons[*in.ArchiveReasonID]
		if r == nil || r.orgID != req.org.id {
			return nil, fail("archive_reason_not_found", "No archive reason with id %s.", *in.ArchiveReasonID)
		}
		reasonID = r.id
	}
	// UNCONFIRMED: an archiveReasonId on a move to a stage that is not
	// Archived is ignored (the spec does not say it is refused).
	if in.ArchiveEmail != nil {
		tpl := s.w.templates[in.ArchiveEmail.CommunicationTemplateID]
		if tpl == nil || tpl.orgID != req.org.id {
			return nil, fail("communication_template_not_found", "No communication template with id %s.", in.ArchiveEmail.CommunicationTemplateID)
		}
		if st.typ != "Archived" {
			return nil, fail("communication_template_not_allowed", "archiveEmail is only for moves to an Archived stage.")
		}
		if c := s.w.candidates[a.candidateID]; c == nil || len(c.emails) == 0 {
			return nil, invalid("archiveEmail was given but the candidate has no email address.")
		}
	}
	s.moveStage(&req.events, a, st, reasonID, req.key.userID, req.now)
	return s.applicationJSON(a), nil
}

func (s *Service) applicationInfo(req *request) (any, *apiError) {
	var in struct {
		ApplicationID           string   `json:"applicationId"`
		SubmittedFormInstanceID string   `json:"submittedFormInstanceId"`
		Expand                  []string `json:"expand"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.ApplicationID == "" && in.SubmittedFormInstanceID != "" {
		return nil, fail("application_not_found", "No application with submittedFormInstanceId %s.", in.SubmittedFormInstanceID)
	}
	for _, x := range in.Expand {
		if x != "openings" && x != "applicationFormSubmissions" && x != "referrals" {
			return nil, invalid("expand: %q is not one of openings, applicationFormSubmissions, referrals.", x)
		}
	}
	a, e := s.application(req, "applicationId", in.ApplicationID)
	if e != nil {
		return nil, e
	}
	out := s.applicationJSON(a)
	for _, x := range in.Expand {
		out[x] = []any{}
	}
	return out, nil
}

// stringOrList is a filter that may be given as a string or an array.
type stringOrList []string

func (l *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

type applicationFilter struct {
	CreatedAfter *int64       `json:"createdAfter"`
	Status       stringOrList `json:"status"`
	JobID        string       `json:"jobId"`
	Expand       []string     `json:"expand"`
}

func (s *Service) applicationList(req *request) (any, *apiError) {
	var in struct {
		pageIn
		applicationFilter
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	for _, st := range in.Status {
		if !slices.Contains([]string{"Hired", "Archived", "Active", "Lead"}, st) {
			return nil, invalid("status: %q is not one of Hired, Archived, Active, Lead.", st)
		}
	}
	return paginate(s, req, in.pageIn, in.applicationFilter, true, func(flt applicationFilter) []pageItem {
		after := createdAfter(flt.CreatedAfter)
		var out []pageItem
		for _, a := range req.org.applications {
			if !after.IsZero() && !a.created.After(after) {
				continue
			}
			if (flt.JobID != "" && a.jobID != flt.JobID) || !req.sees(s.w.jobs[a.jobID]) {
				continue
			}
			if len(flt.Status) > 0 && !slices.Contains(flt.Status, s.applicationStatus(a)) {
				continue
			}
			out = append(out, pageItem{ord: a.ord, seq: a.seq, render: func() any {
				o := s.applicationJSON(a)
				if slices.Contains(flt.Expand, "openings") {
					o["openings"] = []any{}
				}
				return o
			}})
		}
		return out
	})
}

func (s *Service) applicationListHistory(req *request) (any, *apiError) {
	var in struct {
		pageIn
		ApplicationID string `json:"applicationId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	id := in.ApplicationID
	if in.Cursor != nil && *in.Cursor != "" {
		if c := s.w.cursors[*in.Cursor]; c != nil {
			if aid, ok := c.filter.(string); ok && id == "" {
				id = aid
			}
		}
	}
	a, e := s.application(req, "applicationId", strings.TrimSpace(id))
	if e != nil {
		return nil, e
	}
	return s.plainPage(req, in.pageIn, a.id, func(any) []pageItem {
		out := make([]pageItem, 0, len(a.history))
		for _, h := range a.history {
			out = append(out, pageItem{ord: h.ord, seq: h.seq, render: func() any { return historyJSON(h) }})
		}
		return out
	})
}
