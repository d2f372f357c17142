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
	graph    string // Graph's base URL, from discovery's userinfo_endpoint
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
		JWKSURI  string   `json:"jwks_uri"`
		Algs     []string `json:"id_token_signing_alg_values_supported"`
		UserInfo string   `json:"userinfo_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBody)).Decode(&doc); err != nil || doc.JWKSURI == "" {
		return nil, errors.New("openid discovery: no jwks_uri")
	}
	// Microsoft's userinfo endpoint is Graph's (https://graph.microsoft.com/oidc/userinfo).
	v.graph, _ = strings.CutSuffix(doc.UserInfo, "/oidc/userinfo")
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
	// preferred_username is the UPN, a sign-in name that need not receive
	// mail; an address comes from email or, without it, Graph's mail.
	return IDClaims{TenantID: c.TID, ObjectID: c.OID, Email: strings.ToLower(c.Email), Username: strings.ToLower(c.PreferredUsername),
		Name: c.Name, Nonce: c.Nonce, DirectoryRoles: c.WIDs}, nil
}

// PrimaryAddress implements AddressLookup: the mail of the signed-in user
// from Graph's /me, read with the sign-in's access token (User.Read).
// Graph is where discovery's userinfo_endpoint is. An account without a
// mailbox has no mail: the address is then empty.
func (v *MicrosoftIDVerifier) PrimaryAddress(ctx context.Context, accessToken string) (string, error) {
	if _, err := v.load(ctx); err != nil {
		return "", err
	}
	v.mu.Lock()
	graph := v.graph
	v.mu.Unlock()
	if graph == "" || accessToken == "" {
		return "", errors.New("graph /me: no Graph endpoint or access token")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, graph+"/v1.0/me?%24select=mail", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := v.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("graph /me: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("graph /me: status %d", resp.StatusCode)
	}
	var me struct {
		Mail *string `json:"mail"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&me); err != nil {
		return "", fmt.Errorf("graph /me: %w", err)
	}
	if me.Mail == nil {
		return "", nil
	}
	return strings.ToLower(strings.TrimSpace(*me.Mail)), nil
}
