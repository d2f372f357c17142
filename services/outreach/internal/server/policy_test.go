package server_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/server"
)

const svc = "/tandem.outreach.v1.OutreachService/"

// serviceMethods are the unary RPCs; streams, the streaming ones.
func serviceMethods() []string {
	var out []string
	for _, m := range outreachv1.OutreachService_ServiceDesc.Methods {
		out = append(out, svc+m.MethodName)
	}
	return out
}

func streams() []string {
	var out []string
	for _, s := range outreachv1.OutreachService_ServiceDesc.Streams {
		out = append(out, svc+s.StreamName)
	}
	return out
}

func TestEveryRPCHasARule(t *testing.T) {
	if missing := server.Policy.Missing(outreachv1.OutreachService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
	methods := append(serviceMethods(), streams()...)
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

// Every outreach RPC for people has a REST route; an internal one (for
// services only) has none, so the gateway never exposes it. A unary RPC's
// route is an HTTP rule; a streaming one's (file upload and download) is
// the gateway's own, in the OpenAPI document's fragment, and has no HTTP
// rule (grpc-gateway would buffer or wrap the bytes).
func TestEveryRPCHasARESTRouteUnlessInternal(t *testing.T) {
	routed := restRoutedMethods(t)
	for _, m := range serviceMethods() {
		internal := server.Policy[m].String() == "internal"
		switch {
		case internal && slices.Contains(routed, m):
			t.Errorf("%s is internal but routed", m)
		case !internal && !slices.Contains(routed, m):
			t.Errorf("%s has no REST route", m)
		}
	}
	documented := documentedRPCs(t)
	for _, m := range streams() {
		if slices.Contains(routed, m) {
			t.Errorf("%s streams but has an HTTP rule", m)
		}
		if !documented[m] {
			t.Errorf("%s has no gateway route in the OpenAPI document", m)
		}
		if server.Policy[m].String() == "internal" {
			t.Errorf("%s is internal but routed", m)
		}
	}
}

// documentedRPCs are the RPCs with an operation in the OpenAPI document.
func documentedRPCs(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "gateway", "internal", "openapi", "tandem.openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RPC string `json:"x-tandem-rpc"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, item := range doc.Paths {
		for _, op := range item {
			out[op.RPC] = true
		}
	}
	return out
}

func TestRoleRulesOfThePolicy(t *testing.T) {
	readers := "roles(super_admin,admin,recruiter,hiring_manager,member)"
	writers := "roles(super_admin,admin,recruiter)"
	admins := "roles(super_admin,admin)"
	for method, want := range map[string]string{
		"GetCandidate": readers, "ListCandidates": readers, "SearchCandidates": readers,
		"CreateCandidate": writers, "UpdateCandidate": writers, "DeleteCandidate": writers,
		"UndeleteCandidate": writers, "MergeCandidates": writers, "BatchCreateCandidates": writers,
		"ListStages": readers, "MoveCandidateStage": writers, "ListTimeline": readers,
		"CreateNote": "roles(super_admin,admin,recruiter,hiring_manager)", "ListNotes": readers, "UpdateNote": readers, "DeleteNote": readers,
		"CreateCustomFieldDefinition": admins, "ListCustomFieldDefinitions": readers,
		"CreateStage": admins, "UpdateStage": admins, "ReorderStages": admins, "RetireStage": admins,
		"CreateJob": writers, "UpdateJob": writers, "CloseJob": writers, "GetJob": readers, "ListJobs": readers,
		"CreateReferral": readers, "GetReferral": readers, "ListReferrals": readers,
		"ListConversations": "roles(super_admin,admin,recruiter,hiring_manager)", "GetConversation": "roles(super_admin,admin,recruiter,hiring_manager)",
		"RecordConversationMessage": "internal", "ListStagesForService": "internal", "GetCandidateForSync": "internal",
		"UploadCandidateFile": "roles(super_admin,admin,recruiter,hiring_manager)", "ListCandidateFiles": readers,
		"GetCandidateFile": readers, "DownloadCandidateFile": readers, "DeleteCandidateFile": "roles(super_admin,admin,recruiter,hiring_manager)",
	} {
		if got := server.Policy[svc+method].String(); got != want {
			t.Errorf("%s: %s, want %s", method, got, want)
		}
	}
}

// restRoutedMethods reads the outreach selectors of proto/http_rules.yaml.
func restRoutedMethods(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "..", "proto", "http_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const prefix = "tandem.outreach.v1.OutreachService."
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sel, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "- selector: "+prefix); ok {
			out = append(out, svc+strings.TrimSpace(sel))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found only %d outreach routes in http_rules.yaml; has its format changed?", len(out))
	}
	return out
}

// The committed OpenAPI document (make proto derives it from this Policy)
// says, for every routed RPC, the bearer scheme with the policy's roles.
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
			documented[op.RPC] = true
			rule := server.Policy[op.RPC].String()
			want := "roles(" + strings.Join(op.Roles, ",") + ")"
			if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["bearer"] == nil || want != rule {
				t.Errorf("%s %s: %s is %s, the document says %v, %s", method, path, op.RPC, rule, op.Security, want)
			}
		}
	}
	for _, m := range restRoutedMethods(t) {
		if !documented[m] {
			t.Errorf("%s has a REST route but no operation in the document", m)
		}
	}
}
