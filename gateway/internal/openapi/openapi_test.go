package openapi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
)

// document is the part of an OpenAPI 3.1 document these tests read.
type document struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Security   []map[string][]string                 `json:"security"`
	Tags       []struct{ Name string }               `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas         map[string]schema `json:"schemas"`
		Responses       map[string]response
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
		} `json:"securitySchemes"`
	} `json:"components"`
}

type operation struct {
	OperationID string                 `json:"operationId"`
	Tags        []string               `json:"tags"`
	Security    *[]map[string][]string `json:"security"`
	Responses   map[string]response    `json:"responses"`
	RPC         string                 `json:"x-tandem-rpc"`
	Roles       []string               `json:"x-tandem-roles"`
}

type response struct {
	Ref     string `json:"$ref"`
	Content map[string]struct {
		Schema schema `json:"schema"`
	} `json:"content"`
}

type schema struct {
	Ref        string            `json:"$ref"`
	Type       any               `json:"type"` // a name, or a list of them in OpenAPI 3.1
	Required   []string          `json:"required"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
	Enum       []string          `json:"enum"`
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func load(t *testing.T) document {
	t.Helper()
	b, err := Document("1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// operations calls f for each operation of the document.
func operations(t *testing.T, doc document, f func(at string, op operation)) {
	t.Helper()
	n := 0
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains(methods, method) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			n++
			f(strings.ToUpper(method)+" "+path, op)
		}
	}
	if n < 20 {
		t.Fatalf("only %d operations in the document", n)
	}
}

func TestDocumentIsOpenAPI31WithTitle(t *testing.T) {
	doc := load(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || doc.Info.Title != "Tandem API" || doc.Info.Version != "1.2.3" || doc.Paths == nil {
		t.Fatalf("got openapi %q, info %+v", doc.OpenAPI, doc.Info)
	}
	for _, p := range []string{"/v1/me", "/v1/sessions:exchange", "/oauth/microsoft/start", "/oauth/microsoft/callback", "/oauth/microsoft/adminconsent/callback", "/app/auth/complete", "/readyz", "/healthz", "/openapi.json", "/openapi.v2.json"} {
		if doc.Paths[p] == nil {
			t.Errorf("%s is not documented", p)
		}
	}
}

func TestSwaggerDocumentIsTheMergedSwaggerWithTitle(t *testing.T) {
	b, err := SwaggerDocument("1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Swagger string `json:"swagger"`
		Info    struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Info.Title != "Tandem API" || doc.Info.Version != "1.2.3" || doc.Paths == nil {
		t.Fatalf("got %+v", doc)
	}
	for _, p := range []string{"/v1/me", "/v1/sessions:exchange"} {
		if doc.Paths[p] == nil {
			t.Errorf("%s is not documented", p)
		}
	}
}

// noErrors are the operations that answer nothing but success: a liveness
// probe and the documents, which are in memory. Everything else declares
// its error responses.
var noErrors = []string{"GET /healthz", "GET /openapi.json", "GET /openapi.v2.json"}

// The acceptance test of the contract: every operation says whether it
// needs a token and how it fails, so a generated client can know both.
func TestEveryOperationDeclaresSecurityAndErrors(t *testing.T) {
	doc := load(t)
	if s := doc.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Fatalf("bearer scheme: %+v", s)
	}
	declaredTags := map[string]bool{}
	for _, tag := range doc.Tags {
		declaredTags[tag.Name] = true
	}
	ids := map[string]string{}
	operations(t, doc, func(at string, op operation) {
		if op.OperationID == "" || ids[op.OperationID] != "" {
			t.Errorf("%s: operationId %q missing or also used by %s", at, op.OperationID, ids[op.OperationID])
		}
		ids[op.OperationID] = at
		if len(op.Tags) != 1 || !declaredTags[op.Tags[0]] {
			t.Errorf("%s: tags %v, want one declared tag", at, op.Tags)
		}

		if op.Security == nil {
			t.Errorf("%s declares no security (it would inherit the default; say it)", at)
			return
		}
		secured := false
		switch sec := *op.Security; {
		case len(sec) == 0:
		case len(sec) == 1 && len(sec[0]) == 1 && sec[0]["bearer"] != nil:
			secured = true
		default:
			t.Errorf("%s: security %v, want [] or [{bearer: []}]", at, sec)
		}

		var errs []string
		for code, r := range op.Responses {
			if code == "default" || code[0] == '4' || code[0] == '5' {
				errs = append(errs, code)
				if sch := responseSchema(t, doc, r); !strings.HasPrefix(at, "GET /app/") && sch.Ref != "#/components/schemas/Error" && (at != "GET /readyz" || code != "503") {
					t.Errorf("%s: %s is not the Error shape", at, code)
				}
			}
		}
		if slices.Contains(noErrors, at) {
			if len(errs) > 0 {
				t.Errorf("%s: declares %v; take it off noErrors", at, errs)
			}
			return
		}
		if len(errs) == 0 {
			t.Errorf("%s declares no error response", at)
		}
		if isRPC := strings.Contains(at, " /v1/"); isRPC != (op.RPC != "") {
			t.Errorf("%s: x-tandem-rpc %q; every /v1 route, and only those, is an RPC's", at, op.RPC)
		}
		if op.RPC == "" {
			return // a plain route: the fragment lists its own
		}
		want := []string{"400", "401", "429", "500", "503", "default"}
		if secured {
			want = append(want, "403")
			if len(op.Roles) == 0 {
				t.Errorf("%s: secured but names no roles", at)
			}
		}
		for _, code := range want {
			if !slices.Contains(errs, code) {
				t.Errorf("%s (%s) does not declare %s", at, op.RPC, code)
			}
		}
		if r := op.Responses["400"]; r.Ref != "#/components/responses/BadRequest" {
			t.Errorf("%s: 400 is %q, want the BadRequest response with its field list", at, r.Ref)
		}
	})
	fields := doc.Components.Schemas["ErrorDetail"].Properties["fields"]
	if fields.Type != "array" || fields.Items == nil || fields.Items.Ref != "#/components/schemas/FieldViolation" {
		t.Errorf("ErrorDetail.fields: %+v", fields)
	}
}

// responseSchema resolves a response to its JSON schema.
func responseSchema(t *testing.T, doc document, r response) schema {
	t.Helper()
	if name, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
		c, ok := doc.Components.Responses[name]
		if !ok {
			t.Fatalf("no response component %s", name)
		}
		r = c
	}
	if len(r.Content) == 0 {
		return schema{}
	}
	if len(r.Content) != 1 {
		t.Fatalf("response %+v has several media types", r)
	}
	for _, c := range r.Content {
		return c.Schema
	}
	return schema{}
}

// The Error schema is the gateway's real error shape: every gRPC code, and
// a status with field violations and a reason, written by rest.WriteError,
// conforms to it, and every field of rest.ErrorDetail is in it.
func TestErrorSchemaIsTheGatewaysErrorShape(t *testing.T) {
	doc := load(t)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(t.Context(), sc)
	var sts []*status.Status
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		sts = append(sts, status.New(c, "m"))
	}
	st, err := status.New(codes.InvalidArgument, "bad").WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "user.role", Description: "unknown"}}},
		&errdetails.ErrorInfo{Reason: "last_super_admin"},
	)
	if err != nil {
		t.Fatal(err)
	}
	sts = append(sts, st)
	for _, st := range sts {
		w := httptest.NewRecorder()
		rest.WriteError(ctx, w, st)
		var body any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: %v", st.Code(), err)
		}
		if err := conforms(doc, schema{Ref: "#/components/schemas/Error"}, body, "body"); err != nil {
			t.Errorf("%v: %s: %v", st.Code(), w.Body.String(), err)
		}
		if got := body.(map[string]any)["error"].(map[string]any)["code"]; got != float64(w.Code) {
			t.Errorf("%v: code %v, answered %d", st.Code(), got, w.Code)
		}
	}
	detail := doc.Components.Schemas["ErrorDetail"]
	for _, typ := range []reflect.Type{reflect.TypeFor[rest.ErrorDetail](), reflect.TypeFor[rest.FieldViolation]()} {
		sch := detail
		if typ.Name() == "FieldViolation" {
			sch = doc.Components.Schemas["FieldViolation"]
		}
		for f := range typ.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if _, ok := sch.Properties[name]; !ok {
				t.Errorf("%s.%s (%q) is not in the schema", typ.Name(), f.Name, name)
			}
			if !strings.Contains(opts, "omitempty") && !slices.Contains(sch.Required, name) {
				t.Errorf("%s.%s is always written but not required in the schema", typ.Name(), f.Name)
			}
		}
	}
}

// conforms checks v against the subset of JSON Schema the error shape uses,
// and that v has no property the schema does not declare.
func conforms(doc document, s schema, v any, at string) error {
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		ref, ok := doc.Components.Schemas[name]
		if !ok {
			return fmt.Errorf("%s: no schema %s", at, name)
		}
		s = ref
	}
	switch s.Type {
	case "object": // the error shape needs no type lists
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", at)
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: %s missing", at, r)
			}
		}
		for k, pv := range m {
			ps, ok := s.Properties[k]
			if !ok {
				return fmt.Errorf("%s: %s is not in the schema", at, k)
			}
			if err := conforms(doc, ps, pv, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", at)
		}
		for i, e := range a {
			if err := conforms(doc, *s.Items, e, at+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: not a string", at)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			return fmt.Errorf("%s: %q is not one of %v", at, str, s.Enum)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: not an integer", at)
		}
	default:
		return fmt.Errorf("%s: schema type %q not handled", at, s.Type)
	}
	return nil
}
