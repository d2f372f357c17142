package authz

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc"
)

type access int

const (
	accessDenied access = iota // the zero Rule: nobody
	accessPublic
	accessInternal
	accessRoles
)

// Rule says who may call a method. The zero Rule admits nobody.
type Rule struct {
	access access
	roles  []Role // accessRoles: highest first
}

// Public admits anybody, without credentials: exchanging a one-time login
// code, for example. Credentials sent to a public method are ignored, not
// checked: the stale token a browser still holds must not break the login
// that replaces it.
func Public() Rule { return Rule{access: accessPublic} }

// Internal admits other Tandem services only. People and API tokens are
// refused even with the highest role: internal methods trust their request
// (the organization in it, for one) in a way a person's call must not be.
func Internal() Rule { return Rule{access: accessInternal} }

// Roles admits users and API tokens holding one of roles. The set is
// explicit; use AtLeast for "this role and above". Service callers are
// refused: a service acting for a person must not gain that person's
// rights without the person's token. It panics on an empty or invalid set,
// since policies are fixed at start-up and a typo must stop the service.
func Roles(roles ...Role) Rule {
	if len(roles) == 0 {
		panic("authz: Roles needs at least one role")
	}
	set := make([]Role, 0, len(roles))
	for _, r := range roles {
		if !r.Valid() {
			panic(fmt.Sprintf("authz: Roles: invalid role %q", string(r)))
		}
		if !slices.Contains(set, r) {
			set = append(set, r)
		}
	}
	sortRoles(set)
	return Rule{access: accessRoles, roles: set}
}

// AtLeast admits lowest and every role above it.
func AtLeast(lowest Role) Rule {
	if !lowest.Valid() {
		panic(fmt.Sprintf("authz: AtLeast: invalid role %q", string(lowest)))
	}
	var set []Role
	for _, r := range AllRoles() {
		if r.AtLeast(lowest) {
			set = append(set, r)
		}
	}
	return Roles(set...)
}

// AnyMember admits every role of an organization.
func AnyMember() Rule { return Roles(AllRoles()...) }

func (r Rule) String() string {
	switch r.access {
	case accessPublic:
		return "public"
	case accessInternal:
		return "internal"
	case accessRoles:
		names := make([]string, len(r.roles))
		for i, role := range r.roles {
			names[i] = string(role)
		}
		return "roles(" + strings.Join(names, ",") + ")"
	default:
		return "denied"
	}
}

// Policy maps full method names ("/tandem.identity.v1.IdentityService/GetMe")
// to their rule. A method without a rule is denied.
type Policy map[string]Rule

// Missing lists the methods of desc that have no rule, sorted. Each service
// tests that it is empty for every service it registers, so a new RPC is
// not shipped denied by accident (nor, because of the default, open).
func (p Policy) Missing(desc grpc.ServiceDesc) []string {
	var missing []string
	check := func(name string) {
		full := "/" + desc.ServiceName + "/" + name
		if _, ok := p[full]; !ok {
			missing = append(missing, full)
		}
	}
	for _, m := range desc.Methods {
		check(m.MethodName)
	}
	for _, s := range desc.Streams {
		check(s.StreamName)
	}
	slices.Sort(missing)
	return missing
}

// WriteJSON writes the policy as one JSON object, each full method name
// with its rule (Rule.String), indented. `make proto` hands it to
// tools/openapigen, which derives every REST operation's security from it.
func (p Policy) WriteJSON(w io.Writer) error {
	rules := make(map[string]string, len(p))
	for method, rule := range p {
		rules[method] = rule.String()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rules)
}
