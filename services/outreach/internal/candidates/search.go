package candidates

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Page sizes of lists and searches.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Query is a list or a search.
type Query struct {
	Filter    store.Filter
	Order     store.Order
	PageSize  int
	PageToken string
}

// Page is one page of candidates; NextPageToken is empty on the last one.
type Page struct {
	Candidates    []store.Candidate
	NextPageToken string
}

// pageToken is the position a page ended at, bound to the query it came
// from: a token of another search is refused rather than giving a page of
// something else.
type pageToken struct {
	Query     string    `json:"q"`
	Name      string    `json:"n,omitempty"`
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// Search returns a page of the organization's live candidates matching q.
func (c *Candidates) Search(ctx context.Context, orgID string, q Query) (Page, error) {
	f, err := checkFilter(q.Filter)
	if err != nil {
		return Page{}, err
	}
	size := q.PageSize
	switch {
	case size < 0:
		return Page{}, apperr.InvalidArgument("page_size", "must not be negative")
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	fingerprint := queryFingerprint(f, q.Order)
	var after *store.Cursor
	if q.PageToken != "" {
		t, err := decodeToken(q.PageToken)
		if err != nil || t.Query != fingerprint {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
		}
		after = &store.Cursor{Name: t.Name, CreatedAt: t.CreatedAt, ID: t.ID}
	}
	found, err := c.store.SearchCandidates(ctx, orgID, f, q.Order, after, size+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
	}
	if err != nil {
		return Page{}, err
	}
	page := Page{Candidates: found}
	if len(found) > size {
		page.Candidates = found[:size]
		last := page.Candidates[size-1]
		if page.NextPageToken, err = encodeToken(pageToken{Query: fingerprint, Name: strings.ToLower(last.Name), CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

func checkFilter(f store.Filter) (store.Filter, error) {
	var err error
	for _, v := range []struct {
		field string
		s     *string
		max   int
	}{{"name", &f.Name, MaxNameLen}, {"company", &f.Company, MaxTextLen}, {"email", &f.Email, MaxEmailLen}, {"owner_user_id", &f.OwnerUserID, 36}, {"tag", &f.Tag, MaxTagLen}} {
		if *v.s, err = optionalText(v.field, *v.s, v.max); err != nil {
			return store.Filter{}, err
		}
	}
	return f, nil
}

// queryFingerprint names a query; %q quotes each part, so no two queries
// print alike.
func queryFingerprint(f store.Filter, o store.Order) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%q %q %q %q %q %d", f.Name, f.Company, f.Email, f.OwnerUserID, f.Tag, o))
	return hex.EncodeToString(sum[:8])
}

func encodeToken(t pageToken) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("page token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeToken(s string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageToken{}, err
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return pageToken{}, err
	}
	return t, nil
}
