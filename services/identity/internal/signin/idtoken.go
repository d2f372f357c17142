package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// MicrosoftIDVerifier verifies ID tokens of the multi-tenant endpoint with
// go-oidc. Its discovery document names the issuer with a "{tenantid}"
// placeholder, so the issuer is checked here against the token's own tid.
type MicrosoftIDVerifier struct {
	authority string
	tenant    string
	clientID  string
	client    *providerhttp.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// maxDiscoveryBody caps the discovery document; it is a few kilobytes.
const maxDiscoveryBody = 1 << 20

// NewMicrosoftIDVerifier returns a verifier; discovery happens on first use,
// so identity can start before the identity platform answers. Discovery and
// the signing keys are fetched through client, the provider client with
// its timeouts, retries and telemetry; nil makes one named "msidentity".
func NewMicrosoftIDVerifier(authority, tenant, clientID string, client *providerhttp.Client) *MicrosoftIDVerifier {
	if client == nil {
		client = providerhttp.New(providerhttp.Options{Provider: "msidentity"})
	}
	return &MicrosoftIDVerifier{authority: strings.TrimRight(authority, "/"), tenant: tenant, clientID: clientID, client: client}
}

func (v *MicrosoftIDVerifier) load(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.authority+"/"+v.tenant+"/v2.0/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("openid discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openid discovery: status %d", resp.StatusCode)
	}
	var doc struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBody)).Decode(&doc); err != nil || doc.JWKSURI == "" {
		return nil, errors.New("openid discovery: no jwks_uri")
	}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), v.client.HTTPClient()), doc.JWKSURI)
	v.verifier = oidc.NewVerifier("", keys, &oidc.Config{ClientID: v.clientID, SkipIssuerCheck: true, SupportedSigningAlgs: []string{oidc.RS256}})
	return v.verifier, nil
}

// Verify implements IDVerifier.
func (v *MicrosoftIDVerifier) Verify(ctx context.Context, raw string) (IDClaims, error) {
	if raw == "" {
		return IDClaims{}, errors.New("no id token")
	}
	ver, err := v.load(ctx)
	if err != nil {
		return IDClaims{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return IDClaims{}, err
	}
	var c struct {
		TID               string   `json:"tid"`
		OID               string   `json:"oid"`
		Email             string   `json:"email"`
		PreferredUsername string   `json:"preferred_username"`
		Name              string   `json:"name"`
		Nonce             string   `json:"nonce"`
		WIDs              []string `json:"wids"`
	}
	if err := tok.Claims(&c); err != nil {
		return IDClaims{}, err
	}
	if c.TID == "" || c.OID == "" {
		return IDClaims{}, errors.New("id token lacks tid or oid")
	}
	if want := v.authority + "/" + c.TID + "/v2.0"; tok.Issuer != want {
		return IDClaims{}, fmt.Errorf("id token issuer %q is not its tenant's %q", tok.Issuer, want)
	}
	email := c.Email
	if email == "" {
		email = c.PreferredUsername
	}
	return IDClaims{TenantID: c.TID, ObjectID: c.OID, Email: strings.ToLower(email), Name: c.Name, Nonce: c.Nonce, DirectoryRoles: c.WIDs}, nil
}
