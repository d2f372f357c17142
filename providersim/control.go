package providersim

import (
	"net/http"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// controlMux is the control API, served under /_sim/ on every port.
func (s *Sim) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	s.ms.RegisterControl(mux)
	s.graph.RegisterControl(mux)
	s.ashby.RegisterControl(mux)
	s.lever.RegisterControl(mux)
	mux.HandleFunc("GET /_sim/health", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, simclient.Health{
			Status: "ok", Seed: s.opts.Seed, MicrosoftURL: s.msURL, GraphURL: s.graphURL,
			LeverURL: s.leverURL, LeverOAuthURL: s.leverOAuthURL,
		})
	})
	mux.HandleFunc("GET /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.clockState())
	})
	mux.HandleFunc("POST /_sim/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.ClockAdvance
		if !simcore.Decode(w, r, &in) {
			return
		}
		d := time.Duration(in.Seconds * float64(time.Second))
		if in.Duration != "" {
			var err error
			if d, err = simcore.ParseDuration(in.Duration); err != nil {
				simcore.WriteControlError(w, http.StatusBadRequest, "duration: %s", err.Error())
				return
			}
		}
		if d <= 0 {
			simcore.WriteControlError(w, http.StatusBadRequest, "give a positive seconds or duration")
			return
		}
		s.clock.Advance(d)
		simcore.WriteJSON(w, http.StatusOK, s.clockState())
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.faults.List())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f simclient.Fault
		if !simcore.Decode(w, r, &f) {
			return
		}
		if f.Endpoint == "" {
			simcore.WriteControlError(w, http.StatusBadRequest, "endpoint is required (for example graph.sendMail, microsoft.token, graph.* or *)")
			return
		}
		if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
			simcore.WriteControlError(w, http.StatusBadRequest, "status must be a 4xx or 5xx code")
			return
		}
		if f.Status == 0 && !f.Stall && f.LatencyMs <= 0 {
			simcore.WriteControlError(w, http.StatusBadRequest, "a fault needs a status, stall or latencyMs")
			return
		}
		simcore.WriteJSON(w, http.StatusCreated, s.faults.Add(f))
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.faults.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.faults.Remove(r.PathValue("id")) {
			simcore.WriteControlError(w, http.StatusNotFound, "no fault %s", r.PathValue("id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, s.counters.Snapshot(r.URL.Query().Get("prefix")))
	})
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Reset(); err != nil {
			simcore.WriteControlError(w, http.StatusInternalServerError, "%s", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Sim) clockState() simclient.ClockState {
	return simclient.ClockState{Now: s.clock.Now(), Offset: s.clock.Offset().String()}
}
