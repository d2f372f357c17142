// Package customfields holds the rules of an organization's custom
// candidate fields: their definitions (a key, a name, a type: text,
// number, date, URL or one of a list) and what a value of each type may
// be.
package customfields

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Types are the types a field may have.
var Types = []string{"text", "number", "date", "url", "choice"}

// Limits of definitions and values.
const (
	MaxNameLen   = 100
	MaxOptions   = 100
	MaxOptionLen = 100
	MaxTextLen   = 1000
	MaxURLLen    = 2048
	MaxFields    = 100
)

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Store is what the package needs of the store.
type Store interface {
	CreateFieldDefinition(ctx context.Context, orgID string, d store.FieldDefinition) error
	FieldDefinitions(ctx context.Context, orgID string) ([]store.FieldDefinition, error)
}

// Definitions runs the rules over the store.
type Definitions struct{ store Store }

// New returns the rules over st.
func New(st Store) *Definitions { return &Definitions{store: st} }

// List returns the organization's definitions by key.
func (d *Definitions) List(ctx context.Context, orgID string) ([]store.FieldDefinition, error) {
	return d.store.FieldDefinitions(ctx, orgID)
}

// Create defines a field.
func (d *Definitions) Create(ctx context.Context, orgID string, def store.FieldDefinition) (store.FieldDefinition, error) {
	if !keyPattern.MatchString(def.Key) {
		return store.FieldDefinition{}, apperr.InvalidArgument("definition.key", "must be lower-case letters, digits and underscores, starting with a letter, up to 40 characters")
	}
	var err error
	if def.DisplayName, err = validate.Text("definition.display_name", def.DisplayName, MaxNameLen); err != nil {
		return store.FieldDefinition{}, err
	}
	if !slices.Contains(Types, def.Type) {
		return store.FieldDefinition{}, apperr.InvalidArgument("definition.type", "is required")
	}
	switch {
	case def.Type == "choice" && (len(def.Options) == 0 || len(def.Options) > MaxOptions):
		return store.FieldDefinition{}, apperr.InvalidArgument("definition.options", fmt.Sprintf("must hold 1 to %d options", MaxOptions))
	case def.Type != "choice" && len(def.Options) > 0:
		return store.FieldDefinition{}, apperr.InvalidArgument("definition.options", "are for choice fields only")
	}
	for i, o := range def.Options {
		f := fmt.Sprintf("definition.options[%d]", i)
		if def.Options[i], err = validate.Text(f, o, MaxOptionLen); err != nil {
			return store.FieldDefinition{}, err
		}
		if slices.Contains(def.Options[:i], def.Options[i]) {
			return store.FieldDefinition{}, apperr.InvalidArgument(f, "is listed twice")
		}
	}
	err = d.store.CreateFieldDefinition(ctx, orgID, def)
	if errors.Is(err, store.ErrFieldKeyTaken) {
		return store.FieldDefinition{}, (&apperr.Error{Kind: apperr.KindAlreadyExists, Field: "definition.key", Public: "a custom field has this key"}).Wrap(err)
	}
	return def, err
}

// CheckValues checks a candidate's custom field values against the
// organization's definitions and returns them normalised (numbers and
// dates in one canonical form). field names the map ("candidate.custom_fields").
func CheckValues(field string, values map[string]string, defs []store.FieldDefinition) (map[string]string, error) {
	if len(values) > MaxFields {
		return nil, apperr.InvalidArgument(field, fmt.Sprintf("must hold at most %d values", MaxFields))
	}
	out := make(map[string]string, len(values))
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad key is always the same one
	for _, k := range keys {
		f := field + "." + k
		i := slices.IndexFunc(defs, func(d store.FieldDefinition) bool { return d.Key == k })
		if i < 0 {
			return nil, apperr.InvalidArgument(f, "is not a custom field of the organization")
		}
		v, err := checkValue(f, values[k], defs[i])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func checkValue(field, v string, d store.FieldDefinition) (string, error) {
	switch d.Type {
	case "number":
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || strings.ContainsAny(v, "xXpP_") || strings.EqualFold(strings.TrimSpace(v), "nan") || strings.Contains(strings.ToLower(v), "inf") {
			return "", apperr.InvalidArgument(field, "must be a number such as 42 or -1.5")
		}
		return strconv.FormatFloat(n, 'f', -1, 64), nil
	case "date":
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
		if err != nil {
			return "", apperr.InvalidArgument(field, "must be a date such as 2026-12-01")
		}
		return t.Format(time.DateOnly), nil
	case "url":
		raw, err := validate.Text(field, v, MaxURLLen)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return "", apperr.InvalidArgument(field, "must be an http or https URL")
		}
		return raw, nil
	case "choice":
		if !slices.Contains(d.Options, strings.TrimSpace(v)) {
			return "", apperr.InvalidArgument(field, "must be one of: "+strings.Join(d.Options, ", "))
		}
		return strings.TrimSpace(v), nil
	default:
		return validate.Text(field, v, MaxTextLen)
	}
}
