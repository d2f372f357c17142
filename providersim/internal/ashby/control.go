package ashby

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func userView(u *user) simclient.AshbyUser {
	enabled := u.enabled
	return simclient.AshbyUser{ID: u.id, FirstName: u.firstName, LastName: u.lastName, Email: u.email, GlobalRole: u.globalRole, IsEnabled: &enabled, ManagerID: u.managerID}
}

func planView(p *plan) simclient.AshbyInterviewPlan {
	v := simclient.AshbyInterviewPlan{ID: p.id, Title: p.title, IsArchived: p.archived}
	for _, st := range p.stages {
		v.Stages = append(v.Stages, simclient.AshbyStage{ID: st.id, Title: st.title, Type: st.typ, OrderInInterviewPlan: st.order, InterviewStageGroupID: st.groupID, InterviewPlanID: p.id})
	}
	return v
}

func jobView(j *job) simclient.AshbyJob {
	return simclient.AshbyJob{
		ID: j.id, Title: j.title, Status: j.status, EmploymentType: j.employmentType, Confidential: j.confidential,
		CustomRequisitionID: j.requisitionID, DefaultInterviewPlanID: first(j.planIDs), InterviewPlanIDs: slices.Clone(j.planIDs),
		OpenedAt: j.openedAt, ClosedAt: j.closedAt,
	}
}

func sourceView(x *source) simclient.AshbySource {
	return simclient.AshbySource{ID: x.id, Title: x.title, IsArchived: x.archived, SourceType: x.typ.title, SourceTypeID: x.typ.id, TypeIsArchived: x.typ.archived}
}

func reasonView(r *archiveReason) simclient.AshbyArchiveReason {
	return simclient.AshbyArchiveReason{ID: r.id, Text: r.text, ReasonType: r.reasonType, IsArchived: r.archived}
}

func webhookView(h *webhook) simclient.AshbyWebhook {
	return simclient.AshbyWebhook{ID: h.id, OrgID: h.orgID, WebhookType: h.typ, RequestURL: h.url, SecretToken: h.secret, Enabled: h.enabled}
}

func keyView(k *apiKey) simclient.AshbyAPIKey {
	perms := map[string]string{}
	for m, l := range k.perms {
		perms[m] = l
	}
	return simclient.AshbyAPIKey{ID: k.id, Title: k.title, Key: k.secret, Permissions: perms, UserID: k.userID, Confidential: k.confidential, Deactivated: k.deactivated, CreatedAt: k.created}
}

func fileView(f *file) *simclient.AshbyFile {
	if f == nil {
		return nil
	}
	return &simclient.AshbyFile{ID: f.id, Handle: f.handle, Name: f.name, ContentType: f.contentType, Size: len(f.data), SHA256: f.sha(), Context: f.context, Uploaded: f.uploaded}
}

func (s *Service) applicationView(a *application) simclient.AshbyApplication {
	v := simclient.AshbyApplication{
		ID: a.id, CandidateID: a.candidateID, JobID: a.jobID, InterviewPlanID: a.planID, InterviewStageID: a.stageID,
		Status: s.applicationStatus(a), SourceID: a.sourceID, ArchiveReasonID: a.archiveReasonID,
		CreatedByKeyID: a.createdByKeyID, CreatedAt: a.created, UpdatedAt: a.updated,
	}
	if st := s.w.stages[a.stageID]; st != nil {
		v.StageTitle, v.StageType = st.title, st.typ
	}
	if c := s.w.candidates[a.candidateID]; c != nil {
		v.Resume = fileView(c.resume)
	}
	return v
}

func (s *Service) candidateView(c *candidate) simclient.AshbyCandidate {
	v := simclient.AshbyCandidate{
		ID: c.id, Name: c.name, SourceID: c.sourceID, CreditedToUser: c.creditedTo, Position: c.position, Company: c.company,
		CreatedAt: c.created, UpdatedAt: c.updated, ApplicationIDs: slices.Clone(c.applicationIDs),
		Resume: fileView(c.resume), CreatedByKeyID: c.createdByKeyID,
	}
	for _, e := range c.emails {
		v.Emails = append(v.Emails, e.value)
	}
	if len(c.phones) > 0 {
		v.Phone = c.phones[0].value
	}
	for _, l := range c.links {
		if l.typ == "LinkedIn" {
			v.LinkedInURL = l.url
		}
	}
	for _, id := range c.applicationIDs {
		if a := s.w.applications[id]; a != nil {
			v.Applications = append(v.Applications, s.applicationView(a))
		}
	}
	for _, n := range c.notes {
		v.Notes = append(v.Notes, simclient.AshbyNote{ID: n.id, Content: n.content, ContentType: n.contentType, IsPrivate: n.private, AuthorID: n.authorID, KeyID: n.keyID, CreatedAt: n.created})
	}
	for _, m := range c.emails2 {
		v.EmailMessages = append(v.EmailMessages, simclient.AshbyEmailMessage{
			ID: m.id, EmailProviderEmailID: m.providerID, KeyID: m.keyID, Subject: m.subject, From: m.from, To: m.to, Cc: m.cc,
			Body: m.body, UserID: m.userID, SentAt: m.sentAt, MessageIDHeader: m.messageIDHeader, ThreadID: m.threadID,
			IsPrivate: m.private, CreatedAt: m.created,
		})
	}
	return v
}

func (s *Service) orgViewLocked(o *org) simclient.AshbyOrg {
	v := simclient.AshbyOrg{ID: o.id, Name: o.name}
	for _, u := range o.users {
		v.Users = append(v.Users, userView(u))
	}
	for _, p := range o.plans {
		v.InterviewPlans = append(v.InterviewPlans, planView(p))
	}
	for _, j := range o.jobs {
		v.Jobs = append(v.Jobs, jobView(j))
	}
	for _, x := range o.sources {
		v.Sources = append(v.Sources, sourceView(x))
	}
	for _, r := range o.reasons {
		v.ArchiveReasons = append(v.ArchiveReasons, reasonView(r))
	}
	for _, t := range o.templates {
		v.Templates = append(v.Templates, simclient.AshbyTemplate{ID: t.id, Title: t.title})
	}
	for _, h := range o.webhooks {
		v.Webhooks = append(v.Webhooks, webhookView(h))
	}
	for _, k := range o.keys {
		v.APIKeys = append(v.APIKeys, keyView(k))
	}
	return v
}

// Org returns an organization (without its candidates) by id or name.
func (s *Service) Org(idOrName string) (simclient.AshbyOrg, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.orgLocked(idOrName)
	if err != nil {
		return simclient.AshbyOrg{}, err
	}
	return s.orgViewLocked(o), nil
}

// Orgs lists the organizations.
func (s *Service) Orgs() []simclient.AshbyOrg {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simclient.AshbyOrg{}
	for _, o := range s.w.orgOrder {
		out = append(out, s.orgViewLocked(o))
	}
	return out
}

// Candidates lists an organization's candidates as stored.
func (s *Service) Candidates(idOrName string) ([]simclient.AshbyCandidate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.orgLocked(idOrName)
	if err != nil {
		return nil, err
	}
	out := []simclient.AshbyCandidate{}
	for _, c := range o.candidates {
		out = append(out, s.candidateView(c))
	}
	return out, nil
}

// Candidate returns one candidate as stored; a merged-away id answers with
// the survivor (MergedInto says so).
func (s *Service) Candidate(id string) (simclient.AshbyCandidate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	merged := ""
	if to, ok := s.w.mergedInto[id]; ok {
		merged, id = to, to
	}
	c := s.w.candidates[id]
	if c == nil {
		return simclient.AshbyCandidate{}, notFound("no candidate %s", id)
	}
	v := s.candidateView(c)
	v.MergedInto = merged
	return v, nil
}

// Application returns one application as stored.
func (s *Service) Application(id string) (simclient.AshbyApplication, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.w.applications[id]
	if a == nil {
		return simclient.AshbyApplication{}, notFound("no application %s", id)
	}
	return s.applicationView(a), nil
}

// SetKeyDeactivated deactivates (or reactivates) an API key.
func (s *Service) SetKeyDeactivated(id string, off bool) (simclient.AshbyAPIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.w.keys[id]
	if k == nil {
		k = s.w.keysBySecret[id]
	}
	if k == nil {
		return simclient.AshbyAPIKey{}, notFound("no API key %s", id)
	}
	k.deactivated = off
	return keyView(k), nil
}

// MoveApplication moves an application as a person in Ashby would; its
// webhooks fire.
func (s *Service) MoveApplication(id string, m simclient.AshbyStageMove) (simclient.AshbyApplication, error) {
	var events []event
	s.mu.Lock()
	v, err := s.moveLocked(id, m, &events)
	s.mu.Unlock()
	s.hooks.enqueue(events)
	return v, err
}

func (s *Service) moveLocked(id string, m simclient.AshbyStageMove, events *[]event) (simclient.AshbyApplication, error) {
	a := s.w.applications[id]
	if a == nil {
		return simclient.AshbyApplication{}, notFound("no application %s", id)
	}
	p := s.w.plans[a.planID]
	var st *stage
	for _, x := range p.stages {
		if (m.InterviewStageID != "" && x.id == m.InterviewStageID) ||
			(m.InterviewStageID == "" && m.StageTitle != "" && strings.EqualFold(x.title, m.StageTitle)) ||
			(m.InterviewStageID == "" && m.StageTitle == "" && m.StageType != "" && x.typ == m.StageType) {
			st = x
			break
		}
	}
	if st == nil {
		return simclient.AshbyApplication{}, notFound("the application's plan has no such stage (%+v)", m)
	}
	o := s.w.orgs[a.orgID]
	reasonID := ""
	if st.typ == "Archived" {
		reasonID = m.ArchiveReasonID
		if reasonID == "" && len(o.reasons) > 0 {
			reasonID = o.reasons[0].id // a person must pick one; the first will do
		}
		if r := s.w.reasons[reasonID]; r == nil || r.orgID != o.id {
			return simclient.AshbyApplication{}, notFound("no archive reason %s", reasonID)
		}
	}
	actor := m.UserID
	if actor == "" && len(o.users) > 0 {
		actor = o.users[0].id
	}
	s.moveStage(events, a, st, reasonID, actor, s.clock.Now())
	s.counters.Inc("ashby.control.move")
	return s.applicationView(a), nil
}

// MergeCandidates merges one candidate into another, as a person resolving
// a duplicate: applications, emails, notes and messages move to the
// survivor, the other id answers with the survivor, candidateMerge fires.
func (s *Service) MergeCandidates(m simclient.AshbyMerge) (simclient.AshbyCandidate, error) {
	var events []event
	s.mu.Lock()
	v, err := s.mergeLocked(m, &events)
	s.mu.Unlock()
	s.hooks.enqueue(events)
	return v, err
}

func (s *Service) mergeLocked(m simclient.AshbyMerge, events *[]event) (simclient.AshbyCandidate, error) {
	del, keep := s.w.candidates[m.DeletedCandidateID], s.w.candidates[m.MergedCandidateID]
	if del == nil || keep == nil || del == keep || del.orgID != keep.orgID {
		return simclient.AshbyCandidate{}, notFound("merge needs two candidates of one organization")
	}
	now := s.clock.Now()
	for _, id := range del.applicationIDs {
		if a := s.w.applications[id]; a != nil {
			a.candidateID = keep.id
			s.w.touch(&a.meta, now)
		}
	}
	keep.applicationIDs = append(keep.applicationIDs, del.applicationIDs...)
	for _, e := range del.emails {
		if !slices.ContainsFunc(keep.emails, func(x emailAddress) bool { return strings.EqualFold(x.value, e.value) }) {
			keep.emails = append(keep.emails, e)
		}
	}
	keep.notes = append(keep.notes, del.notes...)
	keep.emails2 = append(keep.emails2, del.emails2...)
	if keep.resume == nil {
		keep.resume = del.resume
	}
	s.w.touch(&keep.meta, now)
	s.removeCandidateLocked(del)
	s.w.mergedInto[del.id] = keep.id
	for from, to := range s.w.mergedInto {
		if to == del.id {
			s.w.mergedInto[from] = keep.id
		}
	}
	s.chain(events, s.w.orgs[keep.orgID], []string{"candidateMerge"}, object{
		"deletedCandidate": object{"id": del.id}, "mergedCandidate": s.candidateJSON(keep),
	})
	return s.candidateView(keep), nil
}

func (s *Service) removeCandidateLocked(c *candidate) {
	delete(s.w.candidates, c.id)
	o := s.w.orgs[c.orgID]
	o.candidates = slices.DeleteFunc(o.candidates, func(x *candidate) bool { return x == c })
}

// DeleteCandidate deletes a candidate and their applications;
// candidateDelete fires.
func (s *Service) DeleteCandidate(id string) error {
	var events []event
	s.mu.Lock()
	c := s.w.candidates[id]
	if c == nil {
		s.mu.Unlock()
		return notFound("no candidate %s", id)
	}
	o := s.w.orgs[c.orgID]
	for _, aid := range c.applicationIDs {
		delete(s.w.applications, aid)
	}
	o.applications = slices.DeleteFunc(o.applications, func(a *application) bool { return a.candidateID == c.id })
	s.removeCandidateLocked(c)
	s.chain(&events, o, []string{"candidateDelete"}, object{"candidate": object{"id": c.id}})
	s.mu.Unlock()
	s.hooks.enqueue(events)
	return nil
}

// Ping sends a ping event to a webhook.
func (s *Service) Ping(webhookID string) error {
	s.mu.Lock()
	h := s.w.webhooks[webhookID]
	if h == nil {
		s.mu.Unlock()
		return notFound("no webhook %s", webhookID)
	}
	body := []byte(`{"action":"ping","data":{"webhookActionType":"ping"}}`)
	e := event{webhookID: h.id, action: "ping", actionID: s.ids.GUID("ashby-webhook-action"), url: h.url, secret: h.secret, body: body}
	s.mu.Unlock()
	s.hooks.enqueue([]event{e})
	return nil
}

// ExpireSync makes pagination fail on demand.
func (s *Service) ExpireSync(x simclient.AshbySyncExpiry) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	switch x.Error {
	case "sync_token_expired", "sync_token_invalid":
		for _, t := range s.w.syncTokens {
			if x.Endpoint == "" || t.endpoint == x.Endpoint {
				if x.Error == "sync_token_expired" {
					t.expired = true
				} else {
					t.invalid = true
				}
				n++
			}
		}
	case "next_cursor_expired":
		for _, c := range s.w.cursors {
			if x.Endpoint == "" || c.endpoint == x.Endpoint {
				c.expired = true
				n++
			}
		}
	case "incremental_sync_too_large":
		n = max(1, x.Count)
		s.w.tooLarge[x.Endpoint] += n
	default:
		return 0, bad("error must be sync_token_expired, sync_token_invalid, next_cursor_expired or incremental_sync_too_large")
	}
	return n, nil
}

// RegisterControl adds Ashby's control API to mux.
func (s *Service) RegisterControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/ashby/orgs", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyOrg
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.CreateOrg(in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/ashby/orgs", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Orgs())
	})
	mux.HandleFunc("GET /_sim/ashby/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Org(r.PathValue("org"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/orgs/{org}/objects", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyOrg
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.AddToOrg(r.PathValue("org"), in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/ashby/orgs/{org}/candidates", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Candidates(r.PathValue("org"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/ashby/candidates/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Candidate(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("DELETE /_sim/ashby/candidates/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteCandidate(r.PathValue("id")); err != nil {
			simcore.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/ashby/candidates/merge", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyMerge
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.MergeCandidates(in)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/ashby/applications/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Application(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/applications/{id}/stage", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyStageMove
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.MoveApplication(r.PathValue("id"), in)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/applications/{id}/archive", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyStageMove
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.MoveApplication(r.PathValue("id"), simclient.AshbyStageMove{StageType: "Archived", ArchiveReasonID: in.ArchiveReasonID, UserID: in.UserID})
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/applications/{id}/hire", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyStageMove
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.MoveApplication(r.PathValue("id"), simclient.AshbyStageMove{StageType: "Hired", UserID: in.UserID})
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/api-keys/{id}/deactivate", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.SetKeyDeactivated(r.PathValue("id"), true)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/api-keys/{id}/activate", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.SetKeyDeactivated(r.PathValue("id"), false)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/sync/expire", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbySyncExpiry
		if !simcore.Decode(w, r, &in) {
			return
		}
		n, err := s.ExpireSync(in)
		reply(w, http.StatusOK, simclient.Affected{Count: n}, err)
	})
	mux.HandleFunc("GET /_sim/ashby/settings", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Settings())
	})
	mux.HandleFunc("PUT /_sim/ashby/settings", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbySettings
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.SetSettings(in)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/ashby/webhooks/{id}/ping", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusAccepted, struct{}{}, s.Ping(r.PathValue("id")))
	})
	mux.HandleFunc("GET /_sim/ashby/webhooks/deliveries", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.hooks.deliveries())
	})
	mux.HandleFunc("POST /_sim/ashby/webhooks/faults", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AshbyDeliveryFault
		if !simcore.Decode(w, r, &in) {
			return
		}
		if err := s.hooks.addFault(in); err != nil {
			simcore.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/ashby/webhooks/faults", func(w http.ResponseWriter, r *http.Request) {
		s.hooks.clearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}

func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		simcore.WriteError(w, err)
		return
	}
	simcore.WriteJSON(w, status, v)
}
