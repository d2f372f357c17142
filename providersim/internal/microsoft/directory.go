package microsoft

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// CreateTenant adds a tenant (and the users listed in it).
func (p *Platform) CreateTenant(t simclient.Tenant) (simclient.Tenant, error) {
	if t.Domain == "" || strings.ContainsAny(t.Domain, " /@") {
		return simclient.Tenant{}, fmt.Errorf("%w: tenant needs a domain like contoso.example", ErrInvalid)
	}
	if t.ConsentPolicy == "" {
		t.ConsentPolicy = simclient.UsersMayConsent
	}
	if err := validatePolicy(t.ConsentPolicy, t.AdminConsentScopes, t.MissingConsentError); err != nil {
		return simclient.Tenant{}, err
	}
	users := t.Users
	t.Users = nil
	p.mu.Lock()
	if t.ID == "" {
		t.ID = p.ids.GUID("tenant")
	}
	t.ID = strings.ToLower(t.ID)
	if _, ok := p.tenants[t.ID]; ok {
		p.mu.Unlock()
		return simclient.Tenant{}, fmt.Errorf("%w: tenant %s", ErrConflict, t.ID)
	}
	if _, ok := p.domains[strings.ToLower(t.Domain)]; ok {
		p.mu.Unlock()
		return simclient.Tenant{}, fmt.Errorf("%w: domain %s", ErrConflict, t.Domain)
	}
	if t.AdminConsentScopes != nil {
		t.AdminConsentScopes = canonicalList(t.AdminConsentScopes)
	}
	p.tenants[t.ID] = &tenant{Tenant: t}
	p.domains[strings.ToLower(t.Domain)] = t.ID
	p.mu.Unlock()
	for _, u := range users {
		cu, err := p.CreateUser(t.ID, u)
		if err != nil {
			return simclient.Tenant{}, err
		}
		t.Users = append(t.Users, cu)
	}
	return t, nil
}

func validatePolicy(policy simclient.ConsentPolicy, scopes []string, missing string) error {
	if policy != simclient.UsersMayConsent && policy != simclient.AdminsOnly {
		return fmt.Errorf("%w: consentPolicy must be %q or %q", ErrInvalid, simclient.UsersMayConsent, simclient.AdminsOnly)
	}
	for _, s := range scopes {
		if c, ok := canonicalScope(s); !ok || c == defaultScope {
			return fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
		}
	}
	switch missing {
	case "", simclient.MissingConsentInvalidGrant, simclient.MissingConsentInteractionRequired, simclient.MissingConsentConsentRequired:
	default:
		return fmt.Errorf("%w: missingConsentError %q", ErrInvalid, missing)
	}
	return nil
}

func canonicalList(scopes []string) []string {
	out := []string{}
	for _, s := range scopes {
		if c, ok := canonicalScope(s); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Tenants lists the tenants (without users).
func (p *Platform) Tenants() []simclient.Tenant {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]simclient.Tenant, 0, len(p.tenants))
	for _, t := range p.tenants {
		out = append(out, t.Tenant)
	}
	slices.SortFunc(out, func(a, b simclient.Tenant) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// Tenant returns one tenant by id or domain, with its users.
func (p *Platform) Tenant(idOrDomain string) (simclient.Tenant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.lookupTenantLocked(idOrDomain)
	if t == nil {
		return simclient.Tenant{}, fmt.Errorf("%w: tenant %s", ErrNotFound, idOrDomain)
	}
	out := t.Tenant
	out.Users = p.usersLocked(t.ID)
	return out, nil
}

// UpdateTenant changes a tenant's name or policy.
func (p *Platform) UpdateTenant(idOrDomain string, u simclient.TenantUpdate) (simclient.Tenant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.lookupTenantLocked(idOrDomain)
	if t == nil {
		return simclient.Tenant{}, fmt.Errorf("%w: tenant %s", ErrNotFound, idOrDomain)
	}
	next := t.Tenant
	if u.DisplayName != nil {
		next.DisplayName = *u.DisplayName
	}
	if u.ConsentPolicy != nil {
		next.ConsentPolicy = *u.ConsentPolicy
	}
	if u.AdminConsentWorkflow != nil {
		next.AdminConsentWorkflow = *u.AdminConsentWorkflow
	}
	if u.AdminConsentScopes != nil {
		next.AdminConsentScopes = *u.AdminConsentScopes
	}
	if u.MissingConsentError != nil {
		next.MissingConsentError = *u.MissingConsentError
	}
	if err := validatePolicy(next.ConsentPolicy, next.AdminConsentScopes, next.MissingConsentError); err != nil {
		return simclient.Tenant{}, err
	}
	if next.AdminConsentScopes != nil {
		next.AdminConsentScopes = canonicalList(next.AdminConsentScopes)
	}
	t.Tenant = next
	return next, nil
}

func (p *Platform) lookupTenantLocked(idOrDomain string) *tenant {
	key := strings.ToLower(idOrDomain)
	if t, ok := p.tenants[key]; ok {
		return t
	}
	if id, ok := p.domains[key]; ok {
		return p.tenants[id]
	}
	return nil
}

// adminOnlyScopes are the scopes only an admin may grant in the tenant.
func (t *tenant) adminOnlyScopes() scopeSet {
	set := scopeSet{}
	if t.AdminConsentScopes != nil {
		set.addAll(t.AdminConsentScopes)
		return set
	}
	if t.ConsentPolicy == simclient.AdminsOnly {
		set.addAll(graphScopes)
	}
	return set
}

// CreateUser adds a user to a tenant.
func (p *Platform) CreateUser(tenantID string, u simclient.User) (simclient.User, error) {
	upn := strings.TrimSpace(u.UserPrincipalName)
	if !strings.Contains(upn, "@") {
		return simclient.User{}, fmt.Errorf("%w: userPrincipalName must be an email address", ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.lookupTenantLocked(tenantID)
	if t == nil {
		return simclient.User{}, fmt.Errorf("%w: tenant %s", ErrNotFound, tenantID)
	}
	if _, ok := p.upns[strings.ToLower(upn)]; ok {
		return simclient.User{}, fmt.Errorf("%w: user %s", ErrConflict, upn)
	}
	if u.ID == "" {
		u.ID = p.ids.GUID("user")
	}
	u.ID = strings.ToLower(u.ID)
	if _, ok := p.users[u.ID]; ok {
		return simclient.User{}, fmt.Errorf("%w: user %s", ErrConflict, u.ID)
	}
	u.TenantID = t.ID
	u.UserPrincipalName = upn
	mail, proxies, err := normalizeAddresses(upn, u.Mail, u.ProxyAddresses)
	if err != nil {
		return simclient.User{}, err
	}
	if err := p.addressesFreeLocked(u.ID, proxies); err != nil {
		return simclient.User{}, err
	}
	u.Mail, u.ProxyAddresses = mail, proxies
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.GivenName + " " + u.Surname)
	}
	if u.DisplayName == "" {
		u.DisplayName = upn
	}
	p.users[u.ID] = &user{User: u}
	p.upns[strings.ToLower(upn)] = u.ID
	p.indexAddressesLocked(u.ID, nil, proxies)
	return publicUser(u), nil
}

// normalizeAddresses settles a user's primary address (the UPN when none is
// given) and proxy addresses: lower case, without the "smtp:" prefix, the
// primary first, no duplicates.
func normalizeAddresses(upn, mail string, proxies []string) (string, []string, error) {
	mail = strings.TrimSpace(mail)
	if mail == "" {
		mail = upn
	}
	var out []string
	add := func(a string) error {
		a = strings.TrimSpace(a)
		if len(a) > 5 && strings.EqualFold(a[:5], "smtp:") {
			a = a[5:]
		}
		if !strings.Contains(a, "@") || strings.ContainsAny(a, " <>") {
			return fmt.Errorf("%w: %q is not an SMTP address", ErrInvalid, a)
		}
		a = strings.ToLower(a)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
		return nil
	}
	if err := add(mail); err != nil {
		return "", nil, err
	}
	for _, a := range proxies {
		if err := add(a); err != nil {
			return "", nil, err
		}
	}
	return out[0], out, nil
}

// addressesFreeLocked checks that no other user has one of the addresses.
func (p *Platform) addressesFreeLocked(userID string, addrs []string) error {
	for _, a := range addrs {
		if owner, ok := p.addresses[a]; ok && owner != userID {
			return fmt.Errorf("%w: address %s belongs to another user", ErrConflict, a)
		}
	}
	return nil
}

func (p *Platform) indexAddressesLocked(userID string, old, next []string) {
	for _, a := range old {
		delete(p.addresses, a)
	}
	for _, a := range next {
		p.addresses[a] = userID
	}
}

func publicUser(u simclient.User) simclient.User {
	u.Password = ""
	return u
}

// Users lists the users of a tenant, or of every tenant when tenantID is empty.
func (p *Platform) Users(tenantID string) ([]simclient.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tenantID != "" {
		t := p.lookupTenantLocked(tenantID)
		if t == nil {
			return nil, fmt.Errorf("%w: tenant %s", ErrNotFound, tenantID)
		}
		tenantID = t.ID
	}
	return p.usersLocked(tenantID), nil
}

func (p *Platform) usersLocked(tenantID string) []simclient.User {
	var out []simclient.User
	for _, u := range p.users {
		if tenantID == "" || u.TenantID == tenantID {
			out = append(out, publicUser(u.User))
		}
	}
	slices.SortFunc(out, func(a, b simclient.User) int { return strings.Compare(a.UserPrincipalName, b.UserPrincipalName) })
	return out
}

// User returns a user by object id or user principal name.
func (p *Platform) User(idOrUPN string) (simclient.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.lookupUserLocked(idOrUPN)
	if u == nil {
		return simclient.User{}, fmt.Errorf("%w: user %s", ErrNotFound, idOrUPN)
	}
	return publicUser(u.User), nil
}

// UpdateUser changes a user.
func (p *Platform) UpdateUser(idOrUPN string, upd simclient.UserUpdate) (simclient.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.lookupUserLocked(idOrUPN)
	if u == nil {
		return simclient.User{}, fmt.Errorf("%w: user %s", ErrNotFound, idOrUPN)
	}
	if upd.DisplayName != nil {
		u.DisplayName = *upd.DisplayName
	}
	if upd.Password != nil {
		u.Password = *upd.Password
	}
	if upd.Admin != nil {
		u.Admin = *upd.Admin
	}
	if upd.RequireMFA != nil {
		u.RequireMFA = *upd.RequireMFA
	}
	if upd.OmitEmailClaim != nil {
		u.OmitEmailClaim = *upd.OmitEmailClaim
	}
	if upd.Mail != nil || upd.ProxyAddresses != nil {
		mail, proxies := u.Mail, u.ProxyAddresses
		if upd.Mail != nil {
			mail = *upd.Mail
		}
		if upd.ProxyAddresses != nil {
			proxies = *upd.ProxyAddresses
		}
		mail, proxies, err := normalizeAddresses(u.UserPrincipalName, mail, proxies)
		if err != nil {
			return simclient.User{}, err
		}
		if err := p.addressesFreeLocked(u.ID, proxies); err != nil {
			return simclient.User{}, err
		}
		p.indexAddressesLocked(u.ID, u.ProxyAddresses, proxies)
		u.Mail, u.ProxyAddresses = mail, proxies
	}
	return publicUser(u.User), nil
}

func (p *Platform) lookupUserLocked(idOrUPN string) *user {
	key := strings.ToLower(idOrUPN)
	if u, ok := p.users[key]; ok {
		return u
	}
	if id, ok := p.upns[key]; ok {
		return p.users[id]
	}
	return nil
}

// LookupPerson finds a user by object id or user principal name.
func (p *Platform) LookupPerson(idOrUPN string) (simcore.Person, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.lookupUserLocked(idOrUPN)
	if u == nil {
		return simcore.Person{}, false
	}
	return personOf(u), true
}

// LookupMailbox finds the user an SMTP address delivers to.
func (p *Platform) LookupMailbox(address string) (simcore.Person, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[p.addresses[strings.ToLower(strings.TrimSpace(address))]]
	if u == nil {
		return simcore.Person{}, false
	}
	return personOf(u), true
}

func personOf(u *user) simcore.Person {
	return simcore.Person{
		ID: u.ID, TenantID: u.TenantID, UserPrincipalName: u.UserPrincipalName,
		Mail: u.Mail, ProxyAddresses: slices.Clone(u.ProxyAddresses), OmitEmailClaim: u.OmitEmailClaim,
		DisplayName: u.DisplayName, GivenName: u.GivenName, Surname: u.Surname, JobTitle: u.JobTitle,
	}
}

// CreateApp registers an application; registering a client id again replaces it.
func (p *Platform) CreateApp(a simclient.App) (simclient.App, error) {
	if a.ClientID == "" {
		return simclient.App{}, fmt.Errorf("%w: clientId is required", ErrInvalid)
	}
	if len(a.RedirectURIs) == 0 {
		return simclient.App{}, fmt.Errorf("%w: at least one redirect URI is required", ErrInvalid)
	}
	if a.DisplayName == "" {
		a.DisplayName = a.ClientID
	}
	for _, s := range a.StaticScopes {
		if _, ok := canonicalScope(s); !ok {
			return simclient.App{}, fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
		}
	}
	switch strings.ToLower(a.GroupMembershipClaims) {
	case "", "none", "securitygroup", "directoryrole", "applicationgroup", "all":
	default:
		return simclient.App{}, fmt.Errorf("%w: groupMembershipClaims must be None, SecurityGroup, DirectoryRole, ApplicationGroup or All", ErrInvalid)
	}
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	a.StaticScopes = canonicalList(a.StaticScopes)
	p.mu.Lock()
	p.apps[a.ClientID] = &a
	p.mu.Unlock()
	return publicApp(a), nil
}

func publicApp(a simclient.App) simclient.App {
	a.ClientSecret = ""
	return a
}

// Apps lists the app registrations (without secrets).
func (p *Platform) Apps() []simclient.App {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]simclient.App, 0, len(p.apps))
	for _, a := range p.apps {
		out = append(out, publicApp(*a))
	}
	slices.SortFunc(out, func(a, b simclient.App) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// GrantConsent adds scopes to a user's grant, or to the tenant-wide grant when
// g.UserID is empty.
func (p *Platform) GrantConsent(g simclient.Grant) (simclient.Grant, error) {
	scopes, bad := parseScopes(strings.Join(g.Scopes, " "), nil)
	if bad != "" {
		return simclient.Grant{}, fmt.Errorf("%w: unknown scope %q", ErrInvalid, bad)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key, err := p.grantKeyLocked(&g)
	if err != nil {
		return simclient.Grant{}, err
	}
	p.grantLocked(key, g.UserID == "", scopes)
	return p.grantViewLocked(g), nil
}

// RevokeConsent removes scopes (all of them when g.Scopes is empty) from a
// grant. Refresh tokens that need the removed scopes stop working.
func (p *Platform) RevokeConsent(g simclient.Grant) (simclient.Grant, error) {
	scopes, bad := parseScopes(strings.Join(g.Scopes, " "), nil)
	if bad != "" {
		return simclient.Grant{}, fmt.Errorf("%w: unknown scope %q", ErrInvalid, bad)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key, err := p.grantKeyLocked(&g)
	if err != nil {
		return simclient.Grant{}, err
	}
	m := p.userGrants
	if g.UserID == "" {
		m = p.tenantGrants
	}
	if len(scopes) == 0 {
		delete(m, key)
	} else if set := m[key]; set != nil {
		for _, s := range scopes {
			delete(set, s)
		}
	}
	return p.grantViewLocked(g), nil
}

func (p *Platform) grantKeyLocked(g *simclient.Grant) (grantKey, error) {
	if _, ok := p.apps[g.ClientID]; !ok {
		return grantKey{}, fmt.Errorf("%w: app %s", ErrNotFound, g.ClientID)
	}
	if g.UserID != "" {
		u := p.lookupUserLocked(g.UserID)
		if u == nil {
			return grantKey{}, fmt.Errorf("%w: user %s", ErrNotFound, g.UserID)
		}
		g.UserID, g.TenantID = u.ID, u.TenantID
		return grantKey{g.ClientID, u.ID}, nil
	}
	t := p.lookupTenantLocked(g.TenantID)
	if t == nil {
		return grantKey{}, fmt.Errorf("%w: tenant %q", ErrNotFound, g.TenantID)
	}
	g.TenantID = t.ID
	return grantKey{g.ClientID, t.ID}, nil
}

func (p *Platform) grantLocked(key grantKey, tenantWide bool, scopes []string) {
	m := p.userGrants
	if tenantWide {
		m = p.tenantGrants
	}
	set := m[key]
	if set == nil {
		set = scopeSet{}
		m[key] = set
	}
	set.addAll(scopes)
}

func (p *Platform) grantViewLocked(g simclient.Grant) simclient.Grant {
	if g.UserID != "" {
		g.Scopes = p.userGrants[grantKey{g.ClientID, g.UserID}].sorted()
	} else {
		g.Scopes = p.tenantGrants[grantKey{g.ClientID, g.TenantID}].sorted()
	}
	return g
}

// Grants lists the grants, filtered by the non-empty fields of filter.
func (p *Platform) Grants(clientID, tenantID, userID string) []simclient.Grant {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []simclient.Grant
	for k, set := range p.tenantGrants {
		g := simclient.Grant{ClientID: k.client, TenantID: k.principal, Scopes: set.sorted()}
		if len(g.Scopes) > 0 && match(clientID, g.ClientID) && match(tenantID, g.TenantID) && userID == "" {
			out = append(out, g)
		}
	}
	for k, set := range p.userGrants {
		u := p.users[k.principal]
		if u == nil {
			continue
		}
		g := simclient.Grant{ClientID: k.client, TenantID: u.TenantID, UserID: u.ID, Scopes: set.sorted()}
		if len(g.Scopes) > 0 && match(clientID, g.ClientID) && match(tenantID, g.TenantID) && (userID == "" || strings.EqualFold(userID, u.ID) || strings.EqualFold(userID, u.UserPrincipalName)) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b simclient.Grant) int {
		return strings.Compare(a.ClientID+a.TenantID+a.UserID, b.ClientID+b.TenantID+b.UserID)
	})
	return out
}

func match(filter, v string) bool { return filter == "" || strings.EqualFold(filter, v) }

// consentedLocked is what the user has consented to, personally or through a
// tenant-wide grant.
func (p *Platform) consentedLocked(clientID string, u *user) (all, tenantWide scopeSet) {
	all, tenantWide = scopeSet{}, scopeSet{}
	for s := range p.tenantGrants[grantKey{clientID, u.TenantID}] {
		all[s], tenantWide[s] = true, true
	}
	for s := range p.userGrants[grantKey{clientID, u.ID}] {
		all[s] = true
	}
	return all, tenantWide
}

// ConsentRequests lists admin consent requests, optionally by status.
func (p *Platform) ConsentRequests(status string) []simclient.ConsentRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []simclient.ConsentRequest{}
	for _, r := range p.requests {
		if status == "" || r.Status == status {
			out = append(out, *r)
		}
	}
	return out
}

// ReviewConsentRequest approves (granting the scopes tenant-wide) or denies a
// pending request.
func (p *Platform) ReviewConsentRequest(id string, approve bool) (simclient.ConsentRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.requests {
		if r.ID != id {
			continue
		}
		if r.Status != simclient.RequestPending {
			return simclient.ConsentRequest{}, fmt.Errorf("%w: request %s is %s", ErrConflict, id, r.Status)
		}
		r.ReviewedAt = p.clock.Now()
		if approve {
			r.Status = simclient.RequestApproved
			p.grantLocked(grantKey{r.ClientID, r.TenantID}, true, r.Scopes)
		} else {
			r.Status = simclient.RequestDenied
		}
		return *r, nil
	}
	return simclient.ConsentRequest{}, fmt.Errorf("%w: consent request %s", ErrNotFound, id)
}

// requestApprovalLocked records (or refreshes) a user's pending request.
func (p *Platform) requestApprovalLocked(clientID string, u *user, scopes []string, justification string) *simclient.ConsentRequest {
	for _, r := range p.requests {
		if r.Status == simclient.RequestPending && r.ClientID == clientID && r.UserID == u.ID {
			set := scopeSet{}
			set.addAll(r.Scopes)
			set.addAll(scopes)
			r.Scopes = set.sorted()
			r.Justification = justification
			return r
		}
	}
	set := scopeSet{}
	set.addAll(scopes)
	r := &simclient.ConsentRequest{
		ID:                p.ids.GUID("consent-request"),
		ClientID:          clientID,
		TenantID:          u.TenantID,
		UserID:            u.ID,
		UserPrincipalName: u.UserPrincipalName,
		Scopes:            set.sorted(),
		Justification:     justification,
		Status:            simclient.RequestPending,
		CreatedAt:         p.clock.Now(),
	}
	p.requests = append(p.requests, r)
	return r
}
