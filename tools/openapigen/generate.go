package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3conv"
	"go.yaml.in/yaml/v4"
)

// Version is the OpenAPI version written. openapi3conv canonicalizes to the
// newest 3.x it knows; the document stays at 3.1, which every current
// generator reads, and uses nothing added later.
const Version = "3.1.1"

// BearerScheme is the name of the security scheme the fragment declares.
const BearerScheme = "bearer"

// Extensions on each operation generated from an RPC, for tests and readers.
const (
	// ExtRPC is the full gRPC method behind the operation.
	ExtRPC = "x-tandem-rpc"
	// ExtRoles lists the roles the service's policy admits.
	ExtRoles = "x-tandem-roles"
)

// errorResponses are the fragment's component responses, by status. Each
// RPC operation gets the ones its shape can answer (errorStatuses).
var errorResponses = map[string]string{
	"400": "BadRequest", "401": "Unauthenticated", "403": "PermissionDenied", "404": "NotFound",
	"409": "Conflict", "413": "PayloadTooLarge", "429": "TooManyRequests", "500": "Internal",
	"503": "Unavailable", "default": "Error",
}

// Inputs are what the document is made of.
type Inputs struct {
	// Swagger is protoc-gen-openapiv2's merged document.
	Swagger []byte
	// Rules is proto/http_rules.yaml: which RPC each route calls.
	Rules []byte
	// Fragment is an OpenAPI 3.1 document (YAML or JSON) with the gateway's
	// tags, components and plain routes.
	Fragment []byte
	// Policy maps full gRPC method names to the String() of their
	// authz.Rule: "public", "internal", "denied" or "roles(a,b)".
	Policy map[string]string
}

// Generate builds and validates the OpenAPI 3.1 document.
func Generate(ctx context.Context, in Inputs) (*openapi3.T, error) {
	var v2 openapi2.T
	if err := json.Unmarshal(in.Swagger, &v2); err != nil {
		return nil, fmt.Errorf("swagger: %w", err)
	}
	rpcs, err := rpcsByOperationID(in.Rules)
	if err != nil {
		return nil, err
	}
	frag, err := loadFragment(in.Fragment)
	if err != nil {
		return nil, err
	}
	doc, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	if err := mergeTemplatedPaths(doc); err != nil {
		return nil, err
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("converted document: %w", err)
	}
	openapi3conv.Upgrade(doc)
	doc.OpenAPI = Version
	refDocs, err := refDescriptions(in.Swagger)
	if err != nil {
		return nil, err
	}
	// The proto-generated schemas first, before the fragment's join them.
	protoJSON(doc, refDocs)
	enrichSchemas(doc)
	seen := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route, ok := rpcs[op.OperationID]
			if !ok {
				return nil, fmt.Errorf("%s %s: operation %s has no HTTP rule", method, path, op.OperationID)
			}
			seen[op.OperationID] = true
			if err := describeRPC(op, method, path, route.rpc, in.Policy); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			op.OperationID += route.suffix
		}
	}
	for id, route := range rpcs {
		if !seen[id] {
			return nil, fmt.Errorf("HTTP rule for %s made no operation", route.rpc)
		}
	}
	if err := mergeFragment(doc, frag); err != nil {
		return nil, err
	}
	doc.Tags = tags(doc, frag.Tags)
	if err := uniqueOperationIDs(doc); err != nil {
		return nil, err
	}
	return validated(ctx, doc)
}

// pathParam is a path template's variable.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// mergeTemplatedPaths names each path variable after its field path in
// lowerCamelCase ("{user.id}" becomes "{userId}", like protoc-gen-openapiv2
// names "{user_id}"), and merges the paths that then coincide: OpenAPI holds
// "/v1/users/{userId}" and "/v1/users/{user.id}" to be one path, which must
// appear once. Variable names are not on the wire, so clients lose nothing.
func mergeTemplatedPaths(doc *openapi3.T) error {
	merged := openapi3.NewPaths()
	paths := doc.Paths.Map()
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, path := range names {
		item := paths[path]
		renames := map[string]string{}
		norm := pathParam.ReplaceAllStringFunc(path, func(v string) string {
			name := v[1 : len(v)-1]
			camel := lowerCamel(name)
			if camel != name {
				renames[name] = camel
			}
			return "{" + camel + "}"
		})
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.In == openapi3.ParameterInPath && renames[p.Value.Name] != "" {
					p.Value.Name = renames[p.Value.Name]
				}
			}
		}
		if len(item.Parameters) > 0 {
			return fmt.Errorf("%s: path-level parameters are not expected from protoc-gen-openapiv2", path)
		}
		into := merged.Value(norm)
		if into == nil {
			merged.Set(norm, item)
			continue
		}
		for method, op := range item.Operations() {
			if into.GetOperation(method) != nil {
				return fmt.Errorf("%s %s: two RPCs on one route", method, norm)
			}
			into.SetOperation(method, op)
		}
	}
	doc.Paths = merged
	return nil
}

// lowerCamel turns "user.id" and "user_id" into "userId".
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '.' || r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mergeFragment adds the gateway's info, servers, security scheme, error
// responses, schemas and plain routes.
func mergeFragment(doc, frag *openapi3.T) error {
	doc.Info = frag.Info
	doc.Servers = frag.Servers
	doc.Security = openapi3.SecurityRequirements{{BearerScheme: {}}}
	doc.Components.SecuritySchemes = frag.Components.SecuritySchemes
	if doc.Components.SecuritySchemes[BearerScheme] == nil {
		return fmt.Errorf("fragment: no %q security scheme", BearerScheme)
	}
	doc.Components.Responses = frag.Components.Responses
	for _, name := range errorResponses {
		if doc.Components.Responses[name] == nil {
			return fmt.Errorf("fragment: no component response %q", name)
		}
	}
	for name, s := range frag.Components.Schemas {
		if doc.Components.Schemas[name] != nil {
			return fmt.Errorf("fragment: schema %s is also generated from proto", name)
		}
		doc.Components.Schemas[name] = s
	}
	if len(doc.Components.Parameters) > 0 || len(doc.Components.Headers) > 0 {
		return fmt.Errorf("converted document has component parameters or headers, which the fragment's would replace")
	}
	doc.Components.Parameters = frag.Components.Parameters
	doc.Components.Headers = frag.Components.Headers
	for path, item := range frag.Paths.Map() {
		into := doc.Paths.Value(path)
		if into == nil {
			doc.Paths.Set(path, item)
			continue
		}
		// A gateway route may share a path with RPCs on other methods
		// (uploading a candidate's file beside listing them); one method
		// of one path is one operation.
		if len(item.Parameters) > 0 {
			return fmt.Errorf("fragment: %s is also a generated path; declare its parameters on the operations", path)
		}
		for method, op := range item.Operations() {
			if into.GetOperation(method) != nil {
				return fmt.Errorf("fragment: %s %s is also a generated path's operation", method, path)
			}
			into.SetOperation(method, op)
		}
	}
	return nil
}

// refDescriptions finds the comments of message- and enum-typed fields,
// which Swagger 2.0 writes next to the field's $ref and openapi2conv drops:
// definition name -> property -> description.
func refDescriptions(swagger []byte) (map[string]map[string]string, error) {
	var raw struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Ref         string `json:"$ref"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(swagger, &raw); err != nil {
		return nil, fmt.Errorf("swagger: %w", err)
	}
	out := map[string]map[string]string{}
	for name, def := range raw.Definitions {
		for prop, p := range def.Properties {
			d := p.Description
			if d == "" {
				d = p.Title
			}
			if p.Ref != "" && d != "" {
				if out[name] == nil {
					out[name] = map[string]string{}
				}
				out[name][prop] = d
			}
		}
	}
	return out, nil
}

// protoJSON makes the schemas say what the gateway's JSON holds: it writes
// every field (EmitUnpopulated), with null for a message or timestamp that is
// not set, so those are nullable; and it puts back the comments of fields
// whose type is a message or an enum.
func protoJSON(doc *openapi3.T, refDocs map[string]map[string]string) {
	schemas := doc.Components.Schemas
	nullable := func(desc string, ref *openapi3.SchemaRef) *openapi3.SchemaRef {
		target := schemas[strings.TrimPrefix(ref.Ref, "#/components/schemas/")]
		if target != nil && target.Value != nil && len(target.Value.Enum) > 0 {
			// An enum is a string, its zero value's name when unset.
			if desc == "" {
				return ref
			}
			return &openapi3.SchemaRef{Value: &openapi3.Schema{Description: desc, AllOf: openapi3.SchemaRefs{ref}}}
		}
		null := &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeNull}}}
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Description: desc, OneOf: openapi3.SchemaRefs{ref, null}}}
	}
	fix := func(owner string, s *openapi3.Schema) {
		for name, p := range s.Properties {
			switch {
			case p.Ref != "":
				s.Properties[name] = nullable(refDocs[owner][name], p)
			case p.Value != nil && p.Value.Type != nil && p.Value.Type.Is(openapi3.TypeString) && p.Value.Format == "date-time":
				p.Value.Type = &openapi3.Types{openapi3.TypeString, openapi3.TypeNull}
			}
		}
	}
	for name, s := range schemas {
		if s.Value != nil {
			fix(name, s.Value)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, mt := range op.RequestBody.Value.Content {
				if mt.Schema != nil && mt.Schema.Ref == "" && mt.Schema.Value != nil {
					fix("", mt.Schema.Value)
				}
			}
		}
	}
}

// validated round-trips doc through the loader, which resolves every $ref,
// and validates it as OpenAPI 3.1.
func validated(ctx context.Context, doc *openapi3.T) (*openapi3.T, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	loaded, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load generated document: %w", err)
	}
	if !loaded.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("generated document is OpenAPI %s", loaded.OpenAPI)
	}
	if err := loaded.Validate(ctx); err != nil {
		return nil, fmt.Errorf("generated document: %w", err)
	}
	return doc, nil
}

func loadFragment(b []byte) (*openapi3.T, error) {
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("fragment: %w", err)
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("fragment: %w", err)
	}
	var frag openapi3.T
	if err := json.Unmarshal(js, &frag); err != nil {
		return nil, fmt.Errorf("fragment: %w", err)
	}
	if frag.Info == nil || frag.Components == nil || frag.Paths == nil {
		return nil, fmt.Errorf("fragment: needs info, components and paths")
	}
	return &frag, nil
}

// route is the RPC an operation was made from; suffix tells an additional
// binding's operation from the rule's own ("listSyncAudit2").
type route struct {
	rpc, suffix string
}

// rpcsByOperationID maps protoc-gen-openapiv2's operation ids
// ("IdentityService_GetMe") to full gRPC method names
// ("/tandem.identity.v1.IdentityService/GetMe"), from the HTTP rules. A
// rule's additional bindings make operations numbered from 2
// ("IdentityService_GetMe2"), as protoc-gen-openapiv2 numbers them.
func rpcsByOperationID(rules []byte) (map[string]route, error) {
	var cfg struct {
		HTTP struct {
			Rules []struct {
				Selector           string           `yaml:"selector"`
				AdditionalBindings []map[string]any `yaml:"additional_bindings"`
			} `yaml:"rules"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(rules, &cfg); err != nil {
		return nil, fmt.Errorf("HTTP rules: %w", err)
	}
	out := map[string]route{}
	for _, r := range cfg.HTTP.Rules {
		i := strings.LastIndex(r.Selector, ".")
		j := strings.LastIndex(r.Selector[:max(i, 0)], ".")
		if i < 0 || j < 0 {
			return nil, fmt.Errorf("HTTP rules: selector %q is not package.Service.Method", r.Selector)
		}
		id := r.Selector[j+1:i] + "_" + r.Selector[i+1:]
		full := "/" + r.Selector[:i] + "/" + r.Selector[i+1:]
		if prev, dup := out[id]; dup && prev.rpc != full {
			return nil, fmt.Errorf("HTTP rules: %s and %s share the operation id %s", prev.rpc, full, id)
		}
		out[id] = route{rpc: full}
		for n := range r.AdditionalBindings {
			suffix := strconv.Itoa(n + 2)
			out[id+suffix] = route{rpc: full, suffix: suffix}
		}
	}
	return out, nil
}

// describeRPC gives an operation made from an RPC its id, tag, security and
// error responses.
func describeRPC(op *openapi3.Operation, method, path, rpc string, policy map[string]string) error {
	rule, ok := policy[rpc]
	if !ok {
		return fmt.Errorf("%s has no rule in its service's authz.Policy", rpc)
	}
	op.Extensions = map[string]any{ExtRPC: rpc}
	op.OperationID = lowerFirst(rpc[strings.LastIndex(rpc, "/")+1:])
	op.Tags = []string{resource(path)}
	switch {
	case rule == "public":
		op.Security = &openapi3.SecurityRequirements{}
		op.Description = joinText(op.Description, "Public: needs no token.")
	case strings.HasPrefix(rule, "roles(") && strings.HasSuffix(rule, ")"):
		roles := strings.Split(strings.TrimSuffix(strings.TrimPrefix(rule, "roles("), ")"), ",")
		op.Security = &openapi3.SecurityRequirements{{BearerScheme: {}}}
		op.Extensions[ExtRoles] = roles
		op.Description = joinText(op.Description, "Needs the bearer token of a user or an API token with one of the roles "+strings.Join(roles, ", ")+".")
	default:
		// An internal or denied RPC must not have a REST route: people
		// reaching it would be refused, and it would advertise it.
		return fmt.Errorf("%s is %s in its policy but has a REST route", rpc, rule)
	}
	for _, status := range errorStatuses(op, method, rule == "public") {
		op.Responses.Set(status, &openapi3.ResponseRef{Ref: "#/components/responses/" + errorResponses[status]})
	}
	for _, p := range op.Parameters {
		describeParameter(p.Value)
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		delete(op.RequestBody.Value.Extensions, "x-originalParamName")
	}
	return nil
}

// errorStatuses are the error statuses an RPC's route can answer: the
// gateway maps gRPC codes to these, and the kind of call bounds which codes
// the services return.
func errorStatuses(op *openapi3.Operation, method string, public bool) []string {
	s := []string{"400", "429", "500", "503", "default"}
	// A public RPC refuses a bad or expired credential it was handed (a
	// refresh token, a login code) as 401 too.
	s = append(s, "401")
	if !public {
		s = append(s, "403")
	}
	hasPathParam := slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool {
		return p.Value != nil && p.Value.In == openapi3.ParameterInPath
	})
	if hasPathParam || method == "GET" {
		s = append(s, "404")
	}
	if method != "GET" {
		s = append(s, "409")
	}
	if op.RequestBody != nil {
		s = append(s, "413")
	}
	sort.Strings(s)
	return s
}

// resource is an RPC path's tag: its first segment after the version,
// without a custom verb ("/v1/apiTokens/{id}:revoke" is "apiTokens").
func resource(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	seg := segs[0]
	if len(segs) > 1 {
		seg = segs[1]
	}
	seg, _, _ = strings.Cut(seg, ":")
	return seg
}

// describeParameter fills what the proto comments leave out for the
// parameters every list and update shares.
func describeParameter(p *openapi3.Parameter) {
	if p == nil {
		return
	}
	switch {
	case p.Name == "pageToken" && p.Description == "":
		p.Description = "The nextPageToken of the previous page; empty for the first page. Opaque: pass it back unchanged, with the same other parameters."
	case p.Name == "updateMask" && p.Description == "":
		p.Description = "Comma-separated field names (proto names, e.g. display_name,default_role) to change. Without it, the fields present in the body change."
	}
	if p.Schema != nil && p.Schema.Value != nil {
		setFormat(p.Name, p.Schema.Value)
	}
}

// enrichSchemas gives the generated schemas the formats and descriptions the
// proto types cannot carry.
func enrichSchemas(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(name string, s *openapi3.SchemaRef)
	walk = func(name string, s *openapi3.SchemaRef) {
		if s == nil || s.Ref != "" || s.Value == nil || seen[s.Value] {
			return
		}
		v := s.Value
		seen[v] = true
		setFormat(name, v)
		if v.Description == "" && v.Title != "" {
			// protoc-gen-openapiv2 makes a one-line comment without a
			// final period a title; it is the field's description.
			v.Description, v.Title = v.Title, ""
		}
		if name == "nextPageToken" && v.Description == "" {
			v.Description = "Pass as pageToken to get the next page; empty on the last page."
		}
		for pn, p := range v.Properties {
			walk(pn, p)
		}
		walk(name, v.Items)
		for _, sub := range slices.Concat(v.AllOf, v.AnyOf, v.OneOf) {
			walk(name, sub)
		}
	}
	for name, s := range doc.Components.Schemas {
		walk(name, s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk("", mt.Schema)
				}
			}
		}
	}
}

// externalID matches fields that hold another system's id, which is not a
// Tandem UUID.
var externalID = regexp.MustCompile(`^(remote|external|provider|ats|lever|ashby|graph|internetMessage|message|thread|conversation|subscription)`)

// setFormat sets the format of a string by the field's name: Tandem ids are
// UUIDs (so is a Microsoft tenant id), e-mail addresses and URLs are named
// so.
func setFormat(name string, s *openapi3.Schema) {
	if s.Type == nil || !s.Type.Is(openapi3.TypeString) || s.Format != "" || len(s.Enum) > 0 {
		return
	}
	base := name
	if i := strings.LastIndexAny(base, "._"); i >= 0 {
		base = base[:i] + strings.ToUpper(base[i+1:i+2]) + base[i+2:]
	}
	switch {
	case base == "id" || strings.HasSuffix(base, "Id") && !externalID.MatchString(base):
		s.Format = "uuid"
	case base == "email" || strings.HasSuffix(base, "Email"):
		s.Format = "email"
	case strings.HasSuffix(base, "Url") || strings.HasSuffix(base, "Uri"):
		s.Format = "uri"
	}
}

// tags lists every tag in use, with the fragment's descriptions.
func tags(doc *openapi3.T, described openapi3.Tags) openapi3.Tags {
	used := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, t := range op.Tags {
				used[t] = true
			}
		}
	}
	var out openapi3.Tags
	for _, t := range described {
		if used[t.Name] {
			out = append(out, t)
			delete(used, t.Name)
		}
	}
	var rest []string
	for t := range used {
		rest = append(rest, t)
	}
	sort.Strings(rest)
	for _, t := range rest {
		out = append(out, &openapi3.Tag{Name: t})
	}
	return out
}

func uniqueOperationIDs(doc *openapi3.T) error {
	where := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := method + " " + path
			if op.OperationID == "" {
				return fmt.Errorf("%s has no operationId", at)
			}
			if prev, dup := where[op.OperationID]; dup {
				return fmt.Errorf("operationId %s is used by %s and %s", op.OperationID, prev, at)
			}
			where[op.OperationID] = at
		}
	}
	return nil
}

func lowerFirst(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToLower(r[0])
	}
	return string(r)
}

func joinText(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n\n" + b
}
