package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// swagger is what protoc-gen-openapiv2 writes for three RPCs, in short.
const swagger = `{
  "swagger": "2.0",
  "info": {"title": "tandem/demo/v1/demo.proto", "version": "version not set"},
  "consumes": ["application/json"], "produces": ["application/json"],
  "paths": {
    "/v1/sessions:exchange": {"post": {"operationId": "DemoService_Exchange", "tags": ["DemoService"],
      "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/ExchangeRequest"}}],
      "responses": {"200": {"description": "A successful response.", "schema": {"$ref": "#/definitions/User"}}}}},
    "/v1/users/{userId}": {"get": {"operationId": "DemoService_GetUser", "tags": ["DemoService"],
      "parameters": [{"name": "userId", "in": "path", "required": true, "type": "string"}],
      "responses": {"200": {"description": "A successful response.", "schema": {"$ref": "#/definitions/User"}}}}},
    "/v1/users/{user.id}": {"patch": {"operationId": "DemoService_UpdateUser", "tags": ["DemoService"],
      "parameters": [{"name": "user.id", "in": "path", "required": true, "type": "string"},
        {"name": "user", "in": "body", "required": true, "schema": {"$ref": "#/definitions/User"}},
        {"name": "updateMask", "in": "query", "required": false, "type": "string"}],
      "responses": {"200": {"description": "A successful response.", "schema": {"$ref": "#/definitions/User"}}}}}
  },
  "definitions": {
    "ExchangeRequest": {"type": "object", "properties": {"code": {"type": "string"}}},
    "User": {"type": "object", "properties": {
      "id": {"type": "string"}, "organizationId": {"type": "string"}, "remoteId": {"type": "string"},
      "email": {"type": "string"}, "pictureUrl": {"type": "string"}, "displayName": {"type": "string", "title": "For people"},
      "createTime": {"type": "string", "format": "date-time"},
      "manager": {"$ref": "#/definitions/Manager", "description": "Who they report to."},
      "role": {"$ref": "#/definitions/Role", "title": "Their role"}}},
    "Manager": {"type": "object", "properties": {"name": {"type": "string"}}},
    "Role": {"type": "string", "enum": ["ROLE_UNSPECIFIED", "ROLE_ADMIN"], "default": "ROLE_UNSPECIFIED"}
  }
}`

const rules = `type: google.api.Service
config_version: 3
http:
  rules:
    - selector: tandem.demo.v1.DemoService.Exchange
      post: /v1/sessions:exchange
      body: "*"
    - selector: tandem.demo.v1.DemoService.GetUser
      get: /v1/users/{user_id}
    - selector: tandem.demo.v1.DemoService.UpdateUser
      patch: /v1/users/{user.id}
      body: user
`

func inputs(t *testing.T) Inputs {
	t.Helper()
	// The gateway's real fragment: the generator must accept it.
	frag, err := os.ReadFile(filepath.Join("..", "..", "gateway", "internal", "openapi", "gateway.openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return Inputs{
		Swagger: []byte(swagger), Rules: []byte(rules), Fragment: frag,
		Policy: map[string]string{
			"/tandem.demo.v1.DemoService/Exchange":   "public",
			"/tandem.demo.v1.DemoService/GetUser":    "roles(super_admin,admin,member)",
			"/tandem.demo.v1.DemoService/UpdateUser": "roles(super_admin)",
			"/tandem.demo.v1.DemoService/Internal":   "internal",
		},
	}
}

func responseCodes(op *openapi3.Operation) []string {
	var out []string
	for code := range op.Responses.Map() {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

func TestGenerate(t *testing.T) {
	doc, err := Generate(t.Context(), inputs(t))
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.1" || doc.Info.Title != "Tandem API" {
		t.Fatalf("openapi %s, info %+v", doc.OpenAPI, doc.Info)
	}
	if doc.Paths.Value("/v1/users/{user.id}") != nil {
		t.Fatal("{user.id} was not merged into {userId}")
	}
	users := doc.Paths.Value("/v1/users/{userId}")
	if users == nil || users.Get == nil || users.Patch == nil {
		t.Fatalf("/v1/users/{userId}: %+v", users)
	}
	exchange := doc.Paths.Value("/v1/sessions:exchange").Post

	for _, c := range []struct {
		op       *openapi3.Operation
		id, tag  string
		security openapi3.SecurityRequirements
		roles    []string
		codes    []string
	}{
		{exchange, "exchange", "sessions", openapi3.SecurityRequirements{}, nil,
			[]string{"200", "400", "401", "409", "413", "429", "500", "503", "default"}},
		{users.Get, "getUser", "users", openapi3.SecurityRequirements{{"bearer": {}}}, []string{"super_admin", "admin", "member"},
			[]string{"200", "400", "401", "403", "404", "429", "500", "503", "default"}},
		{users.Patch, "updateUser", "users", openapi3.SecurityRequirements{{"bearer": {}}}, []string{"super_admin"},
			[]string{"200", "400", "401", "403", "404", "409", "413", "429", "500", "503", "default"}},
	} {
		if c.op.OperationID != c.id || !slices.Equal(c.op.Tags, []string{c.tag}) {
			t.Errorf("%s: id %s, tags %v", c.id, c.op.OperationID, c.op.Tags)
		}
		if c.op.Security == nil || len(*c.op.Security) != len(c.security) || len(c.security) == 1 && (*c.op.Security)[0]["bearer"] == nil {
			t.Errorf("%s: security %v, want %v", c.id, c.op.Security, c.security)
		}
		roles, _ := c.op.Extensions[ExtRoles].([]string)
		if !slices.Equal(roles, c.roles) {
			t.Errorf("%s: roles %v, want %v", c.id, roles, c.roles)
		}
		if got := responseCodes(c.op); !slices.Equal(got, c.codes) {
			t.Errorf("%s: responses %v, want %v", c.id, got, c.codes)
		}
		if r := c.op.Responses.Value("400"); r == nil || r.Ref != "#/components/responses/BadRequest" {
			t.Errorf("%s: 400 is %+v", c.id, r)
		}
	}
	if rpc := users.Patch.Extensions[ExtRPC]; rpc != "/tandem.demo.v1.DemoService/UpdateUser" {
		t.Errorf("x-tandem-rpc %v", rpc)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("document security %v, want bearer by default", doc.Security)
	}

	user := doc.Components.Schemas["User"].Value.Properties
	for field, format := range map[string]string{"id": "uuid", "organizationId": "uuid", "remoteId": "", "email": "email", "pictureUrl": "uri", "createTime": "date-time"} {
		if got := user[field].Value.Format; got != format {
			t.Errorf("User.%s: format %q, want %q", field, got, format)
		}
	}
	if d := user["displayName"].Value; d.Description != "For people" || d.Title != "" {
		t.Errorf("displayName: the comment should be the description: %+v", d)
	}
	// The gateway writes null for an unset message or timestamp, and the
	// comments of message and enum fields survive the conversion.
	if ct := user["createTime"].Value.Type; ct == nil || !slices.Equal(*ct, []string{"string", "null"}) {
		t.Errorf("createTime type %v, want string or null", ct)
	}
	if m := user["manager"].Value; m == nil || m.Description != "Who they report to." || len(m.OneOf) != 2 ||
		m.OneOf[0].Ref != "#/components/schemas/Manager" || !m.OneOf[1].Value.Type.Is("null") {
		t.Errorf("manager: %+v, want its description and Manager or null", m)
	}
	if r := user["role"].Value; r == nil || r.Description != "Their role" || len(r.AllOf) != 1 || r.AllOf[0].Ref != "#/components/schemas/Role" {
		t.Errorf("role: %+v, want its description and the Role enum, not nullable", r)
	}
	if f := doc.Components.Schemas["ErrorDetail"].Value.Properties["trace_id"].Value.Format; f != "" {
		t.Errorf("the fragment's schemas are its own: trace_id got format %q", f)
	}
	for _, p := range users.Patch.Parameters {
		switch p.Value.Name {
		case "userId":
			if p.Value.Schema.Value.Format != "uuid" {
				t.Errorf("userId format %q", p.Value.Schema.Value.Format)
			}
		case "updateMask":
			if !strings.Contains(p.Value.Description, "Comma-separated") {
				t.Errorf("updateMask undocumented: %q", p.Value.Description)
			}
		default:
			t.Errorf("unexpected parameter %s", p.Value.Name)
		}
	}
	if doc.Paths.Value("/oauth/microsoft/callback") == nil || doc.Paths.Value("/healthz") == nil {
		t.Error("the fragment's routes are missing")
	}
}

// A gateway route on the path of an RPC with another method joins that
// path's item.
func TestFragmentRouteSharesARPCPathOnAnotherMethod(t *testing.T) {
	in := inputs(t)
	in.Fragment = []byte(strings.Replace(string(in.Fragment), "  /healthz:\n    get:", "  /v1/sessions:exchange:\n    get:", 1))
	doc, err := Generate(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Value("/v1/sessions:exchange")
	if item == nil || item.Get == nil || item.Get.OperationID != "healthz" || item.Post == nil || item.Post.OperationID != "exchange" {
		t.Fatalf("the path holds %+v", item)
	}
}

func TestGenerateRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		change func(*Inputs)
		want   string
	}{
		"an internal RPC with a route": {func(in *Inputs) { in.Policy["/tandem.demo.v1.DemoService/GetUser"] = "internal" }, "is internal in its policy"},
		"a denied RPC with a route":    {func(in *Inputs) { in.Policy["/tandem.demo.v1.DemoService/GetUser"] = "denied" }, "is denied in its policy"},
		"a route without a rule": {func(in *Inputs) { delete(in.Policy, "/tandem.demo.v1.DemoService/GetUser") },
			"has no rule in its service's authz.Policy"},
		"an operation without an HTTP rule": {func(in *Inputs) {
			in.Rules = []byte(strings.ReplaceAll(rules, "DemoService.GetUser", "DemoService.Other"))
		},
			"has no HTTP rule"},
		"an HTTP rule without an operation": {func(in *Inputs) {
			in.Rules = append(in.Rules, []byte("    - selector: tandem.demo.v1.DemoService.Gone\n      get: /v1/gone\n")...)
		}, "made no operation"},
		"a fragment without an error response": {func(in *Inputs) {
			in.Fragment = []byte(strings.Replace(string(in.Fragment), "    PayloadTooLarge:", "    SomethingElse:", 1))
		}, `no component response "PayloadTooLarge"`},
		"a fragment route that is also an RPC's": {func(in *Inputs) {
			in.Fragment = []byte(strings.Replace(string(in.Fragment), "  /healthz:", "  /v1/users/{userId}:", 1))
		}, "GET /v1/users/{userId} is also a generated path's operation"},
	} {
		t.Run(name, func(t *testing.T) {
			in := inputs(t)
			c.change(&in)
			_, err := Generate(t.Context(), in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// An additional binding of a rule is an operation of the same RPC, with an
// id of its own.
func TestAdditionalBindings(t *testing.T) {
	in := inputs(t)
	in.Swagger = []byte(strings.Replace(swagger, `"/v1/users/{user.id}":`,
		`"/v1/teams/{teamId}/users/{userId}": {"get": {"operationId": "DemoService_GetUser2", "tags": ["DemoService"],
      "parameters": [{"name": "teamId", "in": "path", "required": true, "type": "string"}, {"name": "userId", "in": "path", "required": true, "type": "string"}],
      "responses": {"200": {"description": "A successful response.", "schema": {"$ref": "#/definitions/User"}}}}},
    "/v1/users/{user.id}":`, 1))
	in.Rules = []byte(strings.Replace(rules, "      get: /v1/users/{user_id}\n",
		"      get: /v1/users/{user_id}\n      additional_bindings:\n        - get: /v1/teams/{team_id}/users/{user_id}\n", 1))
	doc, err := Generate(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	own, extra := doc.Paths.Value("/v1/users/{userId}"), doc.Paths.Value("/v1/teams/{teamId}/users/{userId}")
	if own == nil || own.Get == nil || extra == nil || extra.Get == nil {
		t.Fatalf("paths %v", doc.Paths.InMatchingOrder())
	}
	if own.Get.OperationID != "getUser" || extra.Get.OperationID != "getUser2" || extra.Get.Extensions[ExtRPC] != "/tandem.demo.v1.DemoService/GetUser" {
		t.Errorf("operations %s and %s (%v)", own.Get.OperationID, extra.Get.OperationID, extra.Get.Extensions[ExtRPC])
	}
	// Without the binding in the rules, the operation has no rule.
	in.Rules = []byte(rules)
	if _, err := Generate(t.Context(), in); err == nil || !strings.Contains(err.Error(), "DemoService_GetUser2 has no HTTP rule") {
		t.Errorf("an unknown binding: %v", err)
	}
}
