// Package openapi embeds Tandem's REST contract: the OpenAPI 3.1 document
// (tandem.openapi.json, written by tools/openapigen from the generated
// Swagger 2.0 document, gateway.openapi.yaml and the services' policies),
// and the Swagger 2.0 document protoc-gen-openapiv2 generates from proto/
// and proto/http_rules.yaml, kept for tools that need 2.0.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
)

//go:embed tandem.openapi.json
var generated []byte

//go:embed tandem.swagger.json
var generatedV2 []byte

// Document returns the OpenAPI 3.1 document, with the build's version.
func Document(version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil {
		return nil, fmt.Errorf("openapi: the document has no info")
	}
	info["version"] = version
	return json.MarshalIndent(doc, "", "  ")
}

// SwaggerDocument returns the Swagger 2.0 document with Tandem's title and
// the build's version set; the generator names it after the first proto
// file it merged. It describes the RPC routes only.
func SwaggerDocument(version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generatedV2, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	doc["info"] = map[string]any{
		"title":       "Tandem API",
		"version":     version,
		"description": "REST API of Tandem, served by the gateway from the services' gRPC APIs. Swagger 2.0, for tools that need it: /openapi.json is the full contract (OpenAPI 3.1).",
	}
	return json.MarshalIndent(doc, "", "  ")
}

// Handler serves a document.
func Handler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}
