package openapi

import (
	"encoding/json"
	"testing"
)

func TestDocumentIsTheMergedSwaggerWithTitle(t *testing.T) {
	b, err := Document("1.2.3")
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
	for _, p := range []string{"/v1/me", "/v1/sessions:exchange", "/oauth/microsoft/start", "/oauth/microsoft/callback", "/oauth/microsoft/adminconsent/callback", "/readyz"} {
		if doc.Paths[p] == nil {
			t.Errorf("%s is not documented", p)
		}
	}
}
