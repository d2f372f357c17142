package ashby

import "time"

// Ashby's timestamps: ISO 8601 in UTC with milliseconds.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type object = map[string]any

func (s *Service) userJSON(u *user) object {
	return object{
		"id": u.id, "firstName": u.firstName, "lastName": u.lastName, "email": u.email,
		"globalRole": u.globalRole, "isEnabled": u.enabled, "updatedAt": ts(u.updated), "managerId": strOrNil(u.managerID),
	}
}

func (s *Service) userRef(id string) any {
	u := s.w.users[id]
	if u == nil {
		return nil
	}
	return object{"id": u.id, "firstName": u.firstName, "lastName": u.lastName, "email": u.email, "globalRole": u.globalRole, "isEnabled": u.enabled}
}

func sourceTypeJSON(t *sourceType) object {
	return object{"id": t.id, "title": t.title, "isArchived": t.archived}
}

func sourceJSON(src *source) object {
	return object{"id": src.id, "title": src.title, "isArchived": src.archived, "sourceType": sourceTypeJSON(src.typ)}
}

func (s *Service) sourceRef(id string) any {
	if src := s.w.sources[id]; src != nil {
		return sourceJSON(src)
	}
	return nil
}

func reasonJSON(r *archiveReason) object {
	return object{"id": r.id, "text": r.text, "reasonType": r.reasonType, "isArchived": r.archived}
}

func stageJSON(st *stage) object {
	return object{
		"id": st.id, "title": st.title, "type": st.typ, "orderInInterviewPlan": st.order,
		"interviewStageGroupId": st.groupID, "interviewPlanId": st.planID,
	}
}

func emailJSON(e emailAddress, primary bool) object {
	return object{"value": e.value, "type": e.typ, "isPrimary": primary}
}

func (s *Service) fileHandleJSON(f *file) any {
	if f == nil {
		return nil
	}
	return object{"id": f.id, "name": f.name, "handle": f.handle}
}

func (s *Service) candidateJSON(c *candidate) object {
	emails := make([]object, 0, len(c.emails))
	for i, e := range c.emails {
		emails = append(emails, emailJSON(e, i == 0))
	}
	phones := make([]object, 0, len(c.phones))
	for i, p := range c.phones {
		phones = append(phones, emailJSON(p, i == 0))
	}
	links := make([]object, 0, len(c.links))
	for _, l := range c.links {
		links = append(links, object{"type": l.typ, "url": l.url})
	}
	var primaryEmail, primaryPhone, loc any
	if len(emails) > 0 {
		primaryEmail = emails[0]
	}
	if len(phones) > 0 {
		primaryPhone = phones[0]
	}
	if c.loc != nil {
		loc = object{"locationSummary": summary(c.loc), "locationComponents": components(c.loc)}
	}
	files := []object{}
	if c.resume != nil {
		files = append(files, object{"id": c.resume.id, "name": c.resume.name, "handle": c.resume.handle})
	}
	tags := make([]object, 0, len(c.tags))
	for _, t := range c.tags {
		tags = append(tags, object{"id": t, "title": t, "isArchived": false})
	}
	return object{
		"id": c.id, "createdAt": ts(c.created), "updatedAt": ts(c.updated), "name": c.name,
		"primaryEmailAddress": primaryEmail, "emailAddresses": emails,
		"primaryPhoneNumber": primaryPhone, "phoneNumbers": phones,
		"socialLinks": links, "tags": tags,
		"position": strOrNil(c.position), "company": strOrNil(c.company), "school": strOrNil(c.school),
		"applicationIds":   append([]string{}, c.applicationIDs...),
		"resumeFileHandle": s.fileHandleJSON(c.resume), "fileHandles": files,
		"customFields": []any{}, "profileUrl": s.base + "/candidate-profile/" + c.id,
		"source": s.sourceRef(c.sourceID), "creditedToUser": s.userRef(c.creditedTo),
		"timezone": nil, "location": loc, "fraudStatus": nil,
	}
}

func summary(l *location) string {
	out := ""
	for _, p := range []string{l.City, l.Region, l.Country} {
		if p == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += p
	}
	return out
}

func components(l *location) []object {
	var out []object
	for _, c := range []struct{ typ, name string }{{"City", l.City}, {"Region", l.Region}, {"Country", l.Country}} {
		if c.name != "" {
			out = append(out, object{"type": c.typ, "name": c.name})
		}
	}
	return out
}

func (s *Service) applicationJSON(a *application) object {
	c := s.w.candidates[a.candidateID]
	var candRef any
	if c != nil {
		var email, phone any
		if len(c.emails) > 0 {
			email = emailJSON(c.emails[0], true)
		}
		if len(c.phones) > 0 {
			phone = emailJSON(c.phones[0], true)
		}
		candRef = object{"id": c.id, "name": c.name, "primaryEmailAddress": email, "primaryPhoneNumber": phone}
	}
	var jobRef any
	if j := s.w.jobs[a.jobID]; j != nil {
		jobRef = object{"id": j.id, "title": j.title, "locationId": strOrNil(j.locationID), "departmentId": strOrNil(j.departmentID)}
	}
	var stageRef, reason any
	if st := s.w.stages[a.stageID]; st != nil {
		stageRef = stageJSON(st)
	}
	if r := s.w.reasons[a.archiveReasonID]; r != nil {
		reason = reasonJSON(r)
	}
	return object{
		"id": a.id, "createdAt": ts(a.created), "updatedAt": ts(a.updated), "status": s.applicationStatus(a),
		"customFields": []any{}, "candidate": candRef, "currentInterviewStage": stageRef,
		"source": s.sourceRef(a.sourceID), "archiveReason": reason, "archivedAt": tsOrNil(a.archivedAt),
		"job": jobRef, "creditedToUser": s.userRef(a.creditedTo), "hiringTeam": []any{},
		"appliedViaJobPostingId": nil, "submitterClientIp": nil, "submitterUserAgent": nil,
	}
}

func (s *Service) applicationStatus(a *application) string {
	if st := s.w.stages[a.stageID]; st != nil {
		return stageStatus(st.typ)
	}
	return "Active"
}

func (s *Service) jobJSON(j *job, expand []string) object {
	out := object{
		"id": j.id, "title": j.title, "confidential": j.confidential, "status": j.status,
		"employmentType": strOrNil(j.employmentType), "locationId": strOrNil(j.locationID), "departmentId": strOrNil(j.departmentID),
		"defaultInterviewPlanId": strOrNil(first(j.planIDs)), "interviewPlanIds": append([]string{}, j.planIDs...),
		"customFields": []any{}, "jobPostingIds": []string{}, "customRequisitionId": strOrNil(j.requisitionID),
		"brandId": nil, "hiringTeam": []any{}, "author": s.userRef(j.authorID),
		"createdAt": ts(j.created), "updatedAt": ts(j.updated), "openedAt": tsOrNil(j.openedAt), "closedAt": tsOrNil(j.closedAt),
	}
	for _, e := range expand {
		switch e {
		case "location":
			out["location"] = nil
		case "openings":
			out["openings"] = []any{}
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func planJSON(p *plan) object {
	return object{"id": p.id, "title": p.title, "isArchived": p.archived, "createdAt": ts(p.created), "updatedAt": ts(p.updated)}
}

func (s *Service) noteJSON(n *note) object {
	return object{"id": n.id, "createdAt": ts(n.created), "isPrivate": n.private, "content": n.content, "author": s.userRef(n.authorID)}
}

func historyJSON(h *historyEntry) object {
	return object{
		"id": h.id, "stageId": h.stageID, "title": h.title, "stageNumber": h.number,
		"enteredStageAt": ts(h.enteredAt), "leftStageAt": tsOrNil(h.leftAt), "actorId": strOrNil(h.actorID),
	}
}
