package graph

import (
	"net/http"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// RegisterControl adds Graph's control API to mux.
func (s *Service) RegisterControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/graph/limits", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Limits())
	})
	mux.HandleFunc("PUT /_sim/graph/limits", func(w http.ResponseWriter, r *http.Request) {
		var l simclient.GraphLimits
		if !simcore.Decode(w, r, &l) {
			return
		}
		out, err := s.SetLimits(l)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/mail/messages", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("address") == "" {
			simcore.WriteControlError(w, http.StatusBadRequest, "address is required")
			return
		}
		out, err := s.Messages(q.Get("address"), q.Get("folder"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/mail/reply", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.Reply
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.ExternalReply(in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("POST /_sim/mail/autoreply", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.AutoReply
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.AutoReply(in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("POST /_sim/mail/bounce", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.Bounce
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.Bounce(in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("POST /_sim/mail/inbound", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.InboundMessage
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := s.Inbound(in)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("POST /_sim/mail/undeliverable", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Address string `json:"address"`
			Reason  string `json:"reason"`
		}
		if !simcore.Decode(w, r, &in) {
			return
		}
		if in.Address == "" {
			simcore.WriteControlError(w, http.StatusBadRequest, "address is required")
			return
		}
		s.SetUndeliverable(in.Address, in.Reason, true)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/mail/undeliverable", func(w http.ResponseWriter, r *http.Request) {
		s.SetUndeliverable(r.URL.Query().Get("address"), "", false)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/graph/delta/expire", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.DeltaExpiry
		if !simcore.Decode(w, r, &in) {
			return
		}
		n, err := s.ExpireDelta(in)
		reply(w, http.StatusOK, simclient.Affected{Count: n}, err)
	})
	mux.HandleFunc("GET /_sim/graph/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.Subscriptions())
	})
	mux.HandleFunc("POST /_sim/graph/subscriptions/{id}/lifecycle", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Event string `json:"event"`
		}
		if !simcore.Decode(w, r, &in) {
			return
		}
		reply(w, http.StatusAccepted, struct{}{}, s.TriggerLifecycle(r.PathValue("id"), in.Event))
	})
	mux.HandleFunc("GET /_sim/graph/notifications", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.notifier.deliveries())
	})
	mux.HandleFunc("POST /_sim/graph/notifications/faults", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.NotificationFault
		if !simcore.Decode(w, r, &in) {
			return
		}
		if err := s.notifier.addFault(in); err != nil {
			simcore.WriteControlError(w, http.StatusBadRequest, "%s", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/graph/notifications/faults", func(w http.ResponseWriter, r *http.Request) {
		s.notifier.clearFaults()
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
