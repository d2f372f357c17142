package lever

import (
	"net/http"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// actorLocked resolves the user a control action is taken as: an id or
// e-mail of the account, or its first Super Admin.
func actorLocked(a *account, ref string) (*user, error) {
	if ref == "" {
		if u := a.superAdmin(); u != nil {
			return u, nil
		}
		return nil, invalid("the account has no Super Admin; give userId")
	}
	if u := a.userRef(ref); u != nil {
		return u, nil
	}
	return nil, invalid("no user %s in the account", ref)
}

func (s *Service) controlOpportunityLocked(id string) (*account, *opportunity, error) {
	o, ok := s.opps[id]
	if !ok || o.rec.Deleted {
		return nil, nil, notFound("no opportunity %s", id)
	}
	return s.accounts[o.rec.AccountID], o, nil
}

// MoveStage moves an opportunity as a person in Lever would: its webhooks
// fire.
func (s *Service) MoveStage(id string, m simclient.LeverStageMove) (simclient.LeverOpportunity, error) {
	s.mu.Lock()
	a, o, err := s.controlOpportunityLocked(id)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	st, ok := a.stage(m.Stage)
	if !ok {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, invalid("no stage %s", m.Stage)
	}
	u, err := actorLocked(a, m.UserID)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	events := s.moveLocked(a, o, st.ID, u.ID, "control")
	out := o.view()
	s.mu.Unlock()
	s.hooks.dispatch(events)
	return out, nil
}

// UpdateContact edits an opportunity's contact details in every
// opportunity of the contact, as a person in Lever would.
func (s *Service) UpdateContact(id string, in simclient.LeverContactUpdate) (simclient.LeverOpportunity, error) {
	if in.Name != nil && *in.Name == "" {
		return simclient.LeverOpportunity{}, invalid("name must not be empty")
	}
	if in.Emails != nil {
		for _, e := range *in.Emails {
			if !strings.Contains(e, "@") {
				return simclient.LeverOpportunity{}, invalid("%s is not an e-mail address", e)
			}
		}
	}
	s.mu.Lock()
	a, o, err := s.controlOpportunityLocked(id)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	u, err := actorLocked(a, in.UserID)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	ct := a.contacts[o.rec.ContactID]
	now := s.nowMs()
	for _, x := range a.opps {
		if x.rec.ContactID != ct.id || x.rec.Deleted {
			continue
		}
		if in.Name != nil {
			x.rec.Name = *in.Name
		}
		if in.Headline != nil {
			x.rec.Headline = *in.Headline
		}
		if in.Location != nil {
			x.rec.Location = *in.Location
		}
		if in.Emails != nil {
			x.rec.Emails = addUnique([]string{}, *in.Emails...)
		}
		if in.Phones != nil {
			x.rec.Phones = addUnique([]string{}, *in.Phones...)
			x.phoneTypes = nil
		}
		s.record(x, "contact", u.ID, "control", now)
	}
	if in.Emails != nil {
		ct.emails = addUnique([]string{}, *in.Emails...)
		for addr, c := range a.byEmail {
			if c == ct {
				delete(a.byEmail, addr)
			}
		}
		for _, e := range ct.emails {
			if a.byEmail[strings.ToLower(e)] == nil {
				a.byEmail[strings.ToLower(e)] = ct
			}
		}
	}
	ev := event{accountID: a.id, name: simclient.LeverContactUpdated, origin: o.rec.Origin, data: map[string]any{"contactId": ct.id}}
	out := o.view()
	s.mu.Unlock()
	s.hooks.dispatch([]event{ev})
	return out, nil
}

// Archive archives (or, with no reason, restores) an opportunity as a
// person in Lever would.
func (s *Service) Archive(id string, in simclient.LeverArchive) (simclient.LeverOpportunity, error) {
	return s.archive(id, in, false)
}

// Hire archives an opportunity with the account's hired reason.
func (s *Service) Hire(id string, in simclient.LeverArchive) (simclient.LeverOpportunity, error) {
	return s.archive(id, in, true)
}

func (s *Service) archive(id string, in simclient.LeverArchive, hire bool) (simclient.LeverOpportunity, error) {
	s.mu.Lock()
	a, o, err := s.controlOpportunityLocked(id)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	var reason *simclient.LeverArchiveReason
	switch {
	case hire && in.Reason == "":
		for _, r := range a.reasons {
			if r.Type == "hired" {
				reason = &r
				break
			}
		}
		if reason == nil {
			s.mu.Unlock()
			return simclient.LeverOpportunity{}, invalid("the account has no hired archive reason")
		}
	case in.Reason != "":
		r, ok := a.reason(in.Reason)
		if !ok || hire && r.Type != "hired" {
			s.mu.Unlock()
			return simclient.LeverOpportunity{}, invalid("no suitable archive reason %s", in.Reason)
		}
		reason = &r
	}
	u, err := actorLocked(a, in.UserID)
	if err != nil {
		s.mu.Unlock()
		return simclient.LeverOpportunity{}, err
	}
	events := s.archiveLocked(a, o, reason, u.ID, "control")
	out := o.view()
	s.mu.Unlock()
	s.hooks.dispatch(events)
	return out, nil
}

// Delete deletes an opportunity as a person in Lever would; the API then
// answers 404 for it and candidateDeleted fires.
func (s *Service) Delete(id, userRef string) error {
	s.mu.Lock()
	a, o, err := s.controlOpportunityLocked(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	u, err := actorLocked(a, userRef)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	o.rec.Deleted = true
	s.record(o, "deleted", u.ID, "control", s.nowMs())
	ev := event{accountID: a.id, name: simclient.LeverCandidateDeleted, origin: o.rec.Origin, data: map[string]any{
		"opportunityId": o.rec.ID, "candidateId": o.rec.ID, "contactId": o.rec.ContactID, "userId": u.ID,
	}}
	s.mu.Unlock()
	s.hooks.dispatch([]event{ev})
	return nil
}

func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		simcore.WriteError(w, err)
		return
	}
	simcore.WriteJSON(w, status, v)
}

// RegisterControl adds Lever's control API to mux.
func (s *Service) RegisterControl(mux *http.ServeMux) {
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool { return simcore.Decode(w, r, v) }
	mux.HandleFunc("GET /_sim/lever/settings", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Settings())
	})
	mux.HandleFunc("PUT /_sim/lever/settings", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverSettings
		if decode(w, r, &in) {
			simcore.WriteJSON(w, http.StatusOK, s.SetSettings(in))
		}
	})
	mux.HandleFunc("GET /_sim/lever/clients", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Clients())
	})
	mux.HandleFunc("POST /_sim/lever/clients", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverClient
		if decode(w, r, &in) {
			out, err := s.CreateClient(in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("GET /_sim/lever/accounts", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Accounts())
	})
	mux.HandleFunc("POST /_sim/lever/accounts", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverAccount
		if decode(w, r, &in) {
			out, err := s.CreateAccount(in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("GET /_sim/lever/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Account(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/users", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverUser
		if decode(w, r, &in) {
			out, err := s.AddUser(r.PathValue("id"), in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/postings", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverPosting
		if decode(w, r, &in) {
			out, err := s.AddPosting(r.PathValue("id"), in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/candidates", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverCandidate
		if decode(w, r, &in) {
			out, err := s.AddCandidate(r.PathValue("id"), in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("GET /_sim/lever/accounts/{id}/opportunities", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Opportunities(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/lever/accounts/{id}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Webhooks(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverWebhook
		if decode(w, r, &in) {
			out, err := s.AddWebhook(r.PathValue("id"), in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/keys", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverAPIKey
		if decode(w, r, &in) {
			out, err := s.CreateKey(r.PathValue("id"), in)
			reply(w, http.StatusCreated, out, err)
		}
	})
	mux.HandleFunc("DELETE /_sim/lever/keys/{key}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RevokeKey(r.PathValue("key")); err != nil {
			simcore.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/lever/accounts/{id}/grants", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Grants(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/lever/accounts/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverRevoke
		if !decode(w, r, &in) {
			return
		}
		if in.ClientID == "" {
			simcore.WriteControlError(w, http.StatusBadRequest, "clientId is required")
			return
		}
		n, err := s.Revoke(r.PathValue("id"), in.ClientID)
		reply(w, http.StatusOK, simclient.Affected{Count: n}, err)
	})
	mux.HandleFunc("GET /_sim/lever/opportunities/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.Opportunity(r.PathValue("id"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/lever/opportunities/{id}/stage", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverStageMove
		if decode(w, r, &in) {
			out, err := s.MoveStage(r.PathValue("id"), in)
			reply(w, http.StatusOK, out, err)
		}
	})
	mux.HandleFunc("PATCH /_sim/lever/opportunities/{id}/contact", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverContactUpdate
		if decode(w, r, &in) {
			out, err := s.UpdateContact(r.PathValue("id"), in)
			reply(w, http.StatusOK, out, err)
		}
	})
	mux.HandleFunc("POST /_sim/lever/opportunities/{id}/archive", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverArchive
		if decode(w, r, &in) {
			out, err := s.Archive(r.PathValue("id"), in)
			reply(w, http.StatusOK, out, err)
		}
	})
	mux.HandleFunc("POST /_sim/lever/opportunities/{id}/hire", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverArchive
		if decode(w, r, &in) {
			out, err := s.Hire(r.PathValue("id"), in)
			reply(w, http.StatusOK, out, err)
		}
	})
	mux.HandleFunc("DELETE /_sim/lever/opportunities/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Delete(r.PathValue("id"), r.URL.Query().Get("userId")); err != nil {
			simcore.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/lever/webhooks/{id}/test", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.TestWebhook(r.PathValue("id"))
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/lever/deliveries", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.hooks.deliveries())
	})
	mux.HandleFunc("POST /_sim/lever/deliveries/faults", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.LeverDeliveryFault
		if !decode(w, r, &in) {
			return
		}
		if err := s.hooks.addFault(in); err != nil {
			simcore.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/lever/deliveries/faults", func(w http.ResponseWriter, r *http.Request) {
		s.hooks.clearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}
