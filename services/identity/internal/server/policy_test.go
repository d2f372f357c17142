package server_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/server"
)

const svc = "/tandem.identity.v1.IdentityService/"

func TestPolicyCoversEveryMethod(t *testing.T) {
	if missing := server.Policy.Missing(identityv1.IdentityService_ServiceDesc); len(missing) != 0 {
		t.Fatalf("methods without a rule (denied to everyone): %v", missing)
	}
	methods := serviceMethods()
	for m := range server.Policy {
		if !slices.Contains(methods, m) {
			t.Errorf("a rule for %s, which the service does not have", m)
		}
	}
	for m := range server.Validators {
		if !slices.Contains(methods, m) {
			t.Errorf("a validator for %s, which the service does not have", m)
		}
	}
}

func serviceMethods() []string {
	var out []string
	for _, m := range identityv1.IdentityService_ServiceDesc.Methods {
		out = append(out, svc+m.MethodName)
	}
	return out
}

// notServedYet are RPCs declared ahead of the issue that builds them: they
// answer Unimplemented, so they have no REST route, yet keep the rule they
// will need.
var notServedYet = []string{}

// An RPC is internal exactly when the gateway has no REST route for it: the
// gateway's OAuth routes and other services reach those with the service
// token, and people never do.
func TestInternalRPCsAreTheOnesWithoutARESTRoute(t *testing.T) {
	routed := restRoutedMethods(t)
	var internal []string
	for _, m := range serviceMethods() {
		rule := server.Policy[m].String()
		switch {
		case slices.Contains(notServedYet, m):
			if slices.Contains(routed, m) || rule == "internal" {
				t.Errorf("%s is not served yet, so it has no REST route and keeps the rule it will need (got %s)", m, rule)
			}
		case slices.Contains(routed, m) && rule == "internal":
			t.Errorf("%s has a REST route but is internal", m)
		case !slices.Contains(routed, m) && rule != "internal":
			t.Errorf("%s has no REST route but is %s, not internal", m, rule)
		case rule == "internal":
			internal = append(internal, strings.TrimPrefix(m, svc))
		}
	}
	slices.Sort(internal)
	want := []string{"AuthenticateApiToken", "BeginAuthorization", "CheckSession", "CompleteAuthorization", "GetAccessToken", "GetUserForService", "ListSigningKeys"}
	if !slices.Equal(internal, want) {
		t.Errorf("internal RPCs %v, want %v", internal, want)
	}
}

// restRoutedMethods reads the identity selectors of proto/http_rules.yaml.
func restRoutedMethods(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "..", "proto", "http_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const prefix = "tandem.identity.v1.IdentityService."
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if sel, ok := strings.CutPrefix(line, "- selector: "+prefix); ok {
			out = append(out, svc+strings.TrimSpace(sel))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("found only %d identity routes in http_rules.yaml; has its format changed?", len(out))
	}
	return out
}

func TestRoleRulesOfThePolicy(t *testing.T) {
	for method, want := range map[string]string{
		"ExchangeLoginCode":  "public",
		"RefreshSession":     "public",
		"GetMe":              "roles(super_admin,admin,recruiter,hiring_manager,member)",
		"UpdateOrganization": "roles(super_admin,admin)",
		"UpdateUser":         "roles(super_admin,admin)",
		"RemoveUser":         "roles(super_admin,admin)",
		"CreateApiToken":     "roles(super_admin,admin)",
		"GetConnection":      "roles(super_admin,admin)",
		"ConnectLever":       "roles(super_admin)",
	} {
		if got := server.Policy[svc+method].String(); got != want {
			t.Errorf("%s: %s, want %s", method, got, want)
		}
	}
}

// The REST contract says who may call each route, and it must say what the
// policy enforces: the committed OpenAPI document (make proto derives it from
// this Policy) has, for every routed RPC, no security when the RPC is
// public, and the bearer scheme with the policy's roles otherwise.
func TestOpenAPIDocumentFollowsThePolicy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "gateway", "internal", "openapi", "tandem.openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RPC      string                 `json:"x-tandem-rpc"`
			Roles    []string               `json:"x-tandem-roles"`
			Security *[]map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if !strings.HasPrefix(op.RPC, svc) {
				continue
			}
			at := method + " " + path
			documented[op.RPC] = true
			rule, ok := server.Policy[op.RPC]
			if !ok || op.Security == nil {
				t.Errorf("%s: %s has rule %v (%v), security %v", at, op.RPC, rule, ok, op.Security)
				continue
			}
			sec := *op.Security
			switch r := rule.String(); {
			case r == "public":
				if len(sec) != 0 || len(op.Roles) != 0 {
					t.Errorf("%s: %s is public, the document says security %v, roles %v", at, op.RPC, sec, op.Roles)
				}
			case strings.HasPrefix(r, "roles("):
				want := "roles(" + strings.Join(op.Roles, ",") + ")"
				if len(sec) != 1 || sec[0]["bearer"] == nil || want != r {
					t.Errorf("%s: %s is %s, the document says security %v, %s", at, op.RPC, r, sec, want)
				}
			default:
				t.Errorf("%s: %s is %s but documented as a REST route", at, op.RPC, r)
			}
		}
	}
	for _, m := range restRoutedMethods(t) {
		if !documented[m] {
			t.Errorf("%s has a REST route but no operation in the document", m)
		}
	}
}
