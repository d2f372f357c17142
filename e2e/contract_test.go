package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
)

// The REST contract against the running gateway: /openapi.json is OpenAPI
// 3.1 (and /openapi.v2.json Swagger 2.0), every documented route is served,
// every operation that declares the bearer scheme refuses a call without a
// token with 401, and what any operation answers to an anonymous call is a
// status it declares.
func TestOpenAPIDocumentIsWhatTheGatewayServes(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var v2 struct {
		Swagger string `json:"swagger"`
	}
	getJSON(t, client, s.GatewayURL+"/openapi.v2.json", &v2)
	if v2.Swagger != "2.0" {
		t.Errorf("/openapi.v2.json is swagger %q", v2.Swagger)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			RPC         string                     `json:"x-tandem-rpc"`
			Security    *[]map[string][]string     `json:"security"`
			RequestBody *json.RawMessage           `json:"requestBody"`
			Responses   map[string]json.RawMessage `json:"responses"`
			Parameters  []struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Schema struct {
					Type string `json:"type"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	getJSON(t, client, s.GatewayURL+"/openapi.json", &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("/openapi.json is OpenAPI %q", doc.OpenAPI)
	}

	param := regexp.MustCompile(`\{[^}]+\}`)
	secured, n := 0, 0
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.Responses == nil {
				continue // not an operation
			}
			n++
			at := strings.ToUpper(method) + " " + path
			// Each path parameter gets a value of its type (a number where
			// the route takes one), so what is checked is the route's
			// authentication, not the decoding of its parameters.
			numeric := map[string]bool{}
			for _, p := range op.Parameters {
				if p.In == "path" && p.Schema.Type == "integer" {
					numeric[p.Name] = true
				}
			}
			url := s.GatewayURL + param.ReplaceAllStringFunc(path, func(p string) string {
				if numeric[strings.Trim(p, "{}")] {
					return "7"
				}
				return "3f1c2a9e-8d1b-4c55-9a6e-0c3b2d1e4f5a"
			})
			var body io.Reader
			if op.RequestBody != nil {
				body = strings.NewReader("{}")
			}
			req, err := http.NewRequestWithContext(t.Context(), strings.ToUpper(method), url, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s: read the answer: %v", at, err)
			}
			var e struct {
				Error struct {
					Status  string `json:"status"`
					Message string `json:"message"`
				} `json:"error"`
			}
			_ = json.Unmarshal(raw, &e) //nolint:errcheck // not every route answers JSON; a body that is not leaves e empty, which the checks below read as not the error shape
			if resp.StatusCode == http.StatusNotFound && e.Error.Message == "no such route" {
				t.Errorf("%s is documented but not served", at)
				continue
			}
			bearer := op.Security != nil && len(*op.Security) == 1 && (*op.Security)[0]["bearer"] != nil
			if bearer {
				secured++
				if resp.StatusCode != http.StatusUnauthorized || e.Error.Status != "UNAUTHENTICATED" {
					t.Errorf("%s declares the bearer scheme but answered a call without a token %d %s", at, resp.StatusCode, raw)
				}
			} else if resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("%s is documented public but refused a call without a token: %s", at, raw)
			}
			code := resp.Status[:3]
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s answered %s, which it does not declare (%v): %.200s", at, code, slices.Sorted(maps.Keys(op.Responses)), raw)
			}
		}
	}
	if n < 20 || secured < 10 {
		t.Fatalf("only %d operations, %d secured, in the document", n, secured)
	}
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read the answer: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s %.200s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
