package microsoft

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
)

// pathTenant is what the {tenant} segment of a URL names.
type pathTenant struct {
	seg    string  // as written
	kind   string  // "common", "organizations" or "tenant"
	tenant *tenant // when kind is "tenant"
}

// resolveTenantLocked interprets the {tenant} path segment; ok is false for an
// unknown tenant.
func (p *Platform) resolveTenantLocked(seg string) (pathTenant, bool) {
	switch seg {
	case "common", "organizations":
		return pathTenant{seg: seg, kind: seg}, true
	}
	t := p.lookupTenantLocked(seg)
	if t == nil {
		return pathTenant{seg: seg}, false
	}
	return pathTenant{seg: seg, kind: "tenant", tenant: t}, true
}

// metadataTenant resolves the {tenant} of a metadata request (discovery,
// keys), answering invalid_tenant itself when there is none.
func (p *Platform) metadataTenant(w http.ResponseWriter, r *http.Request) (pathTenant, bool) {
	p.mu.Lock()
	pt, ok := p.resolveTenantLocked(r.PathValue("tenant"))
	p.mu.Unlock()
	if !ok {
		p.writeTokenError(w, r, newAAD(http.StatusBadRequest, "invalid_tenant", 90002, pt.seg))
	}
	return pt, ok
}

func (p *Platform) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.discovery")
	if p.fault(w, r, "microsoft.discovery") {
		return
	}
	pt, ok := p.metadataTenant(w, r)
	if !ok {
		return
	}
	seg, issuer := pt.kind, p.base+"/{tenantid}/v2.0"
	if pt.tenant != nil {
		seg, issuer = pt.tenant.ID, p.Issuer(pt.tenant.ID)
	}
	at := p.base + "/" + seg
	graphHost := p.graph
	if u, err := url.Parse(p.graph); err == nil {
		graphHost = u.Host
	}
	simcore.WriteJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        at + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              at + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     p.graph + "/oidc/userinfo",
		"authorization_endpoint":                at + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         at + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  at + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
			"cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
			"preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":     at + "/kerberos",
		"tenant_region_scope":   "EU",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          graphHost,
		"rbac_url":              "https://pas.windows.net",
	})
}

func (p *Platform) serveKeys(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.keys")
	if p.fault(w, r, "microsoft.keys") {
		return
	}
	pt, ok := p.metadataTenant(w, r)
	if !ok {
		return
	}
	issuer := p.base + "/{tenantid}/v2.0"
	if pt.tenant != nil {
		issuer = p.Issuer(pt.tenant.ID)
	}
	keys, err := p.publishedKeys(issuer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	simcore.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (p *Platform) serveErrorInfo(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "AADSTS%s\n", code)
}
