package customfields_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/outreach/internal/customfields"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

type fakeStore struct{ created []store.FieldDefinition }

func (f *fakeStore) CreateFieldDefinition(_ context.Context, _ string, d store.FieldDefinition) error {
	f.created = append(f.created, d)
	return nil
}

func (f *fakeStore) FieldDefinitions(context.Context, string) ([]store.FieldDefinition, error) {
	return f.created, nil
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
		t.Errorf("want InvalidArgument on %s, got %v", field, err)
	}
}

func TestDefinitionsAreChecked(t *testing.T) {
	st := &fakeStore{}
	d := customfields.New(st)
	if _, err := d.Create(t.Context(), "org", store.FieldDefinition{Key: "seniority", DisplayName: "Seniority", Type: "choice", Options: []string{"junior", "senior"}}); err != nil {
		t.Fatal(err)
	}
	for field, def := range map[string]store.FieldDefinition{
		"definition.key":          {Key: "Bad-Key", DisplayName: "x", Type: "text"},
		"definition.display_name": {Key: "k", DisplayName: "", Type: "text"},
		"definition.type":         {Key: "k", DisplayName: "x", Type: "blob"},
		"definition.options":      {Key: "k", DisplayName: "x", Type: "choice"},
		"definition.options[1]":   {Key: "k", DisplayName: "x", Type: "choice", Options: []string{"a", "a"}},
	} {
		_, err := d.Create(t.Context(), "org", def)
		wantField(t, err, field)
	}
	_, err := d.Create(t.Context(), "org", store.FieldDefinition{Key: "k", DisplayName: "x", Type: "text", Options: []string{"a"}})
	wantField(t, err, "definition.options")
	if len(st.created) != 1 {
		t.Fatalf("bad definitions reached the store: %v", st.created)
	}
}

func TestValuesFollowTheirType(t *testing.T) {
	defs := []store.FieldDefinition{
		{Key: "note", Type: "text"}, {Key: "years", Type: "number"}, {Key: "start", Type: "date"},
		{Key: "site", Type: "url"}, {Key: "level", Type: "choice", Options: []string{"junior", "senior"}},
	}
	got, err := customfields.CheckValues("c", map[string]string{"note": " hi ", "years": "07.50", "start": "2027-01-04", "site": "https://ada.example", "level": "senior"}, defs)
	if err != nil || got["note"] != "hi" || got["years"] != "7.5" || got["start"] != "2027-01-04" || got["level"] != "senior" {
		t.Fatalf("values %v, %v", got, err)
	}
	for field, values := range map[string]map[string]string{
		"c.unknown": {"unknown": "x"},
		"c.years":   {"years": "NaN"},
		"c.start":   {"start": "04/01/2027"},
		"c.site":    {"site": "ftp://ada.example"},
		"c.level":   {"level": "staff"},
		"c.note":    {"note": "bell\a"},
	} {
		_, err := customfields.CheckValues("c", values, defs)
		wantField(t, err, field)
	}
}
