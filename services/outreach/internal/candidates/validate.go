package candidates

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked against the IANA database wherever the service runs

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Limits of a candidate's fields.
const (
	MaxNameLen  = 200
	MaxTextLen  = 200
	MaxEmails   = 20
	MaxEmailLen = 254
	MaxLinks    = 20
	MaxURLLen   = 2048
	MaxTags     = 50
	MaxTagLen   = 50
	MaxPhoneLen = 40
)

// LinkKinds are the kinds a link may have.
var LinkKinds = []string{"linkedin", "github", "website", "other"}

// check returns c with every field checked and normalised (trimmed,
// duplicates dropped), or the first bad field named under prefix
// ("candidate." or "candidates[3].").
func check(prefix string, c store.Candidate) (store.Candidate, error) {
	var err error
	if c.Name, err = validate.Text(prefix+"name", c.Name, MaxNameLen); err != nil {
		return store.Candidate{}, err
	}
	if c.Emails, err = checkEmails(prefix+"emails", c.Emails); err != nil {
		return store.Candidate{}, err
	}
	if c.Phone, err = checkPhone(prefix+"phone", c.Phone); err != nil {
		return store.Candidate{}, err
	}
	if c.Links, err = checkLinks(prefix+"links", c.Links); err != nil {
		return store.Candidate{}, err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"title", &c.Title}, {"company", &c.Company}, {"location", &c.Location}, {"source", &c.Source}} {
		if *f.v, err = optionalText(prefix+f.name, *f.v, MaxTextLen); err != nil {
			return store.Candidate{}, err
		}
	}
	if c.TimeZone, err = checkTimeZone(prefix+"time_zone", c.TimeZone); err != nil {
		return store.Candidate{}, err
	}
	if c.Tags, err = checkTags(prefix+"tags", c.Tags); err != nil {
		return store.Candidate{}, err
	}
	if c.OwnerUserID != "" && uuid.Validate(c.OwnerUserID) != nil {
		return store.Candidate{}, apperr.InvalidArgument(prefix+"owner_user_id", "must be a user id")
	}
	return c, nil
}

func optionalText(field, s string, maxLen int) (string, error) {
	if s == "" {
		return "", nil
	}
	return validate.Text(field, s, maxLen)
}

// NormalizeEmail is the form two addresses are compared in, the one the
// store's unique index uses: trimmed and lower-case.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmails(field string, in []string) ([]string, error) {
	if len(in) > MaxEmails {
		return nil, apperr.InvalidArgument(field, fmt.Sprintf("must hold at most %d addresses", MaxEmails))
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, e := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		e, err := validate.Text(f, e, MaxEmailLen)
		if err != nil {
			return nil, err
		}
		// Only a bare address: no display name, no comments.
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || a.Name != "" {
			return nil, apperr.InvalidArgument(f, "must be an e-mail address such as ada@example.com")
		}
		if seen[NormalizeEmail(e)] {
			return nil, apperr.InvalidArgument(f, "is listed twice")
		}
		seen[NormalizeEmail(e)] = true
		out = append(out, e)
	}
	return out, nil
}

func checkPhone(field, s string) (string, error) {
	s, err := optionalText(field, s, MaxPhoneLen)
	if err != nil || s == "" {
		return s, err
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-(). x", r):
		default:
			return "", apperr.InvalidArgument(field, "may hold only digits, spaces and + - ( ) . x")
		}
	}
	if digits < 3 {
		return "", apperr.InvalidArgument(field, "must hold a phone number")
	}
	return s, nil
}

func checkLinks(field string, in []store.Link) ([]store.Link, error) {
	if len(in) > MaxLinks {
		return nil, apperr.InvalidArgument(field, fmt.Sprintf("must hold at most %d links", MaxLinks))
	}
	out := make([]store.Link, 0, len(in))
	seen := map[string]bool{}
	for i, l := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !slices.Contains(LinkKinds, l.Kind) {
			return nil, apperr.InvalidArgument(f+".kind", "is required")
		}
		raw, err := validate.Text(f+".url", l.URL, MaxURLLen)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, apperr.InvalidArgument(f+".url", "must be an http or https URL")
		}
		if seen[raw] {
			continue
		}
		seen[raw] = true
		out = append(out, store.Link{Kind: l.Kind, URL: raw})
	}
	return out, nil
}

func checkTimeZone(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if s == "Local" || strings.TrimSpace(s) != s {
		return "", apperr.InvalidArgument(field, `must be an IANA time zone such as "Europe/Paris"`)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "", apperr.InvalidArgument(field, `must be an IANA time zone such as "Europe/Paris"`)
	}
	return s, nil
}

func checkTags(field string, in []string) ([]string, error) {
	if len(in) > MaxTags {
		return nil, apperr.InvalidArgument(field, fmt.Sprintf("must hold at most %d tags", MaxTags))
	}
	out := make([]string, 0, len(in))
	for i, t := range in {
		t, err := validate.Text(fmt.Sprintf("%s[%d]", field, i), t, MaxTagLen)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
