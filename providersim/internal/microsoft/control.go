package microsoft

import (
	"net/http"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// RegisterControl adds the identity platform's control API to mux.
func (p *Platform) RegisterControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/tenants", func(w http.ResponseWriter, r *http.Request) {
		var t simclient.Tenant
		if !simcore.Decode(w, r, &t) {
			return
		}
		out, err := p.CreateTenant(t)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/tenants", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, p.Tenants())
	})
	mux.HandleFunc("GET /_sim/tenants/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.Tenant(r.PathValue("tenant"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("PATCH /_sim/tenants/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		var u simclient.TenantUpdate
		if !simcore.Decode(w, r, &u) {
			return
		}
		out, err := p.UpdateTenant(r.PathValue("tenant"), u)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/tenants/{tenant}/users", func(w http.ResponseWriter, r *http.Request) {
		var u simclient.User
		if !simcore.Decode(w, r, &u) {
			return
		}
		out, err := p.CreateUser(r.PathValue("tenant"), u)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/tenants/{tenant}/users", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.Users(r.PathValue("tenant"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/users", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.Users(r.URL.Query().Get("tenant"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/users/{user}", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.User(r.PathValue("user"))
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("PATCH /_sim/users/{user}", func(w http.ResponseWriter, r *http.Request) {
		var u simclient.UserUpdate
		if !simcore.Decode(w, r, &u) {
			return
		}
		out, err := p.UpdateUser(r.PathValue("user"), u)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/users/{user}/revoke-sessions", func(w http.ResponseWriter, r *http.Request) {
		n, err := p.RevokeSessions(r.PathValue("user"))
		reply(w, http.StatusOK, simclient.Affected{Count: n}, err)
	})
	mux.HandleFunc("POST /_sim/apps", func(w http.ResponseWriter, r *http.Request) {
		var a simclient.App
		if !simcore.Decode(w, r, &a) {
			return
		}
		out, err := p.CreateApp(a)
		reply(w, http.StatusCreated, out, err)
	})
	mux.HandleFunc("GET /_sim/apps", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, p.Apps())
	})
	mux.HandleFunc("GET /_sim/consent/grants", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		out := p.Grants(q.Get("clientId"), q.Get("tenantId"), q.Get("userId"))
		if out == nil {
			out = []simclient.Grant{}
		}
		simcore.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_sim/consent/grants", func(w http.ResponseWriter, r *http.Request) {
		var g simclient.Grant
		if !simcore.Decode(w, r, &g) {
			return
		}
		out, err := p.GrantConsent(g)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/consent/grants/revoke", func(w http.ResponseWriter, r *http.Request) {
		var g simclient.Grant
		if !simcore.Decode(w, r, &g) {
			return
		}
		out, err := p.RevokeConsent(g)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/consent/requests", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, p.ConsentRequests(r.URL.Query().Get("status")))
	})
	mux.HandleFunc("POST /_sim/consent/requests/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.ReviewConsentRequest(r.PathValue("id"), true)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/consent/requests/{id}/deny", func(w http.ResponseWriter, r *http.Request) {
		out, err := p.ReviewConsentRequest(r.PathValue("id"), false)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("GET /_sim/lifetimes", func(w http.ResponseWriter, r *http.Request) {
		out := p.Lifetimes()
		if out == nil {
			out = []simclient.Lifetimes{}
		}
		simcore.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("PUT /_sim/lifetimes", func(w http.ResponseWriter, r *http.Request) {
		var l simclient.Lifetimes
		if !simcore.Decode(w, r, &l) {
			return
		}
		simcore.WriteJSON(w, http.StatusOK, p.SetLifetimes(l))
	})
	mux.HandleFunc("GET /_sim/keys", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusOK, p.SigningKeys())
	})
	mux.HandleFunc("POST /_sim/keys/rollover", func(w http.ResponseWriter, r *http.Request) {
		var in simclient.KeyRollover
		if !simcore.Decode(w, r, &in) {
			return
		}
		out, err := p.RolloverKeys(in.Phase)
		reply(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /_sim/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		var f simclient.TokenFilter
		if !simcore.Decode(w, r, &f) {
			return
		}
		simcore.WriteJSON(w, http.StatusOK, simclient.Affected{Count: p.ExpireTokens(f)})
	})
}

func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		simcore.WriteError(w, err)
		return
	}
	simcore.WriteJSON(w, status, v)
}
