// Package openapi embeds the merged OpenAPI (Swagger 2.0) document that
// protoc-gen-openapiv2 generates from proto/ and proto/http_rules.yaml.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed tandem.swagger.json
var generated []byte

// Document returns the document with Tandem's title and version set; the
// generator names it after the first proto file it merged.
func Document(version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
	}
	for p, item := range plainPaths() {
		paths[p] = item
	}
	doc["paths"] = paths
	doc["info"] = map[string]any{
		"title":       "Tandem API",
		"version":     version,
		"description": "REST API of Tandem, served by the gateway from the services' gRPC APIs.",
	}
	return json.MarshalIndent(doc, "", "  ")
}
