package ashby

import (
	"slices"
	"strings"
)

var jobStatuses = []string{"Draft", "Open", "Closed", "Archived"}

type jobFilter struct {
	Status       stringOrList `json:"status"`
	OpenedAfter  *int64       `json:"openedAfter"`
	OpenedBefore *int64       `json:"openedBefore"`
	ClosedAfter  *int64       `json:"closedAfter"`
	ClosedBefore *int64       `json:"closedBefore"`
	Expand       []string     `json:"expand"`
	// includeUnpublishedJobPostingsIds changes nothing here: the simulator
	// has no job postings.
	IncludeUnpublished bool `json:"includeUnpublishedJobPostingsIds"`
}

func (s *Service) jobList(req *request) (any, *apiError) {
	var in struct {
		pageIn
		jobFilter
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	for _, st := range in.Status {
		if !slices.Contains(jobStatuses, st) {
			return nil, invalid("status: %q is not one of Draft, Open, Closed, Archived.", st)
		}
	}
	for _, x := range in.Expand {
		if x != "location" && x != "openings" {
			return nil, invalid("expand: %q is not one of location, openings.", x)
		}
	}
	return paginate(s, req, in.pageIn, in.jobFilter, true, func(flt jobFilter) []pageItem {
		statuses := []string(flt.Status)
		if len(statuses) == 0 {
			statuses = []string{"Open", "Closed", "Archived"} // Draft jobs only when asked for
		}
		var out []pageItem
		for _, j := range req.org.jobs {
			if !slices.Contains(statuses, j.status) || !req.sees(j) {
				continue
			}
			if !inRange(j.openedAt, flt.OpenedAfter, flt.OpenedBefore) || !inRange(j.closedAt, flt.ClosedAfter, flt.ClosedBefore) {
				continue
			}
			out = append(out, pageItem{ord: j.ord, seq: j.seq, render: func() any { return s.jobJSON(j, flt.Expand) }})
		}
		return out
	})
}

// inRange applies optional epoch-millisecond bounds; a bound on a time the
// job does not have (never opened, never closed) leaves it out.
func inRange(t interface{ UnixMilli() int64 }, after, before *int64) bool {
	if after == nil && before == nil {
		return true
	}
	ms := t.UnixMilli()
	if ms <= 0 {
		return false
	}
	return (after == nil || ms > *after) && (before == nil || ms < *before)
}

func (s *Service) jobSearch(req *request) (any, *apiError) {
	var in struct {
		Title         string `json:"title"`
		RequisitionID string `json:"requisitionId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.Title == "" && in.RequisitionID == "" {
		return nil, invalid("Give title or requisitionId.")
	}
	out := []any{}
	for _, j := range req.org.jobs {
		if !req.sees(j) {
			continue
		}
		if in.Title != "" && !strings.Contains(strings.ToLower(j.title), strings.ToLower(in.Title)) {
			continue
		}
		if in.RequisitionID != "" && j.requisitionID != in.RequisitionID {
			continue
		}
		out = append(out, s.jobJSON(j, nil))
	}
	return out, nil
}

// sees reports whether the caller's key may see a job: confidential jobs
// need the key's opt-in.
func (req *request) sees(j *job) bool { return j != nil && (!j.confidential || req.key.confidential) }

func (s *Service) job(req *request, field, id string) (*job, *apiError) {
	if id == "" {
		return nil, invalid("%s is required.", field)
	}
	j := s.w.jobs[id]
	if j == nil || j.orgID != req.org.id || !req.sees(j) {
		return nil, fail("job_not_found", "No job with id %s.", id)
	}
	return j, nil
}

func (s *Service) jobInfo(req *request) (any, *apiError) {
	var in struct {
		ID     string   `json:"id"`
		JobID  string   `json:"jobId"`
		Expand []string `json:"expand"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	if in.ID == "" {
		in.ID = in.JobID
	}
	j, e := s.job(req, "id", in.ID)
	if e != nil {
		return nil, e
	}
	return s.jobJSON(j, in.Expand), nil
}

func (s *Service) jobInterviewPlanInfo(req *request) (any, *apiError) {
	var in struct {
		JobID string `json:"jobId"`
	}
	if e := decode(req, &in); e != nil {
		return nil, e
	}
	j, e := s.job(req, "jobId", in.JobID)
	if e != nil {
		return nil, e
	}
	p := s.w.plans[first(j.planIDs)]
	if p == nil {
		return nil, fail("interview_plan_not_found", "The job %s has no interview plan.", j.id)
	}
	stages := make([]any, 0, len(p.stages))
	for _, st := range p.stages {
		o := stageJSON(st)
		delete(o, "interviewPlanId")
		o["activities"] = []any{}
		stages = append(stages, o)
	}
	return object{"jobId": j.id, "interviewPlanId": p.id, "stages": stages}, nil
}
