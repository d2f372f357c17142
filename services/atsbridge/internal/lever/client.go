// Package lever is atsbridge's client of Lever's Data API (providers.md
// §2.2-2.6): the reads an import needs (stages, postings, users, archive
// reasons), paged by Lever's opaque `next` token while `hasNext` holds.
//
// Every request goes through platform/providerhttp keyed by the
// connection, so the connection's rate limit (Lever: about 10 requests a
// second, bursts of 20, per token) is shared by every replica, a 429's
// pause holds for all of them, and a wait longer than the client will
// block comes back as *providerhttp.RetryAfterError for the job to snooze.
//
// Errors are typed (*APIError, with ErrUnauthorized, ErrForbidden,
// ErrNotFound, ErrUnavailable in their chain) and carry the HTTP status
// and Lever's error code only, never Lever's message nor a token.
package lever

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// DefaultBaseURL is Lever's Data API host; the API is under /v1.
const DefaultBaseURL = "https://api.lever.co"

// maxPageBody caps one page's body: 100 postings with their content are
// well under this.
const maxPageBody = 8 << 20

// maxPages bounds one listing, so a provider that keeps saying hasNext
// cannot hold a job forever.
const maxPages = 10_000

// pageSize is Lever's largest page.
const pageSize = 100

// Auth is the connection a call is made for and its access token.
type Auth struct {
	// ConnectionID keys the shared rate limit.
	ConnectionID string
	Token        string
}

// String hides the token.
func (a Auth) String() string {
	return "lever.Auth{connection: " + a.ConnectionID + ", token: REDACTED}"
}

// Client calls the Data API. It is safe for concurrent use.
type Client struct {
	base string
	http *providerhttp.Client
}

// New returns a client of the API at baseURL (without /v1).
func New(baseURL string, hc *providerhttp.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("lever: base URL must be an absolute http(s) URL without a query")
	}
	if hc == nil {
		hc = providerhttp.New(providerhttp.Options{Provider: "lever"})
	}
	return &Client{base: u.String() + "/v1", http: hc}, nil
}

// Stage is a pipeline stage, in Lever's order.
type Stage struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Posting is a job posting.
type Posting struct {
	ID         string `json:"id"`
	Text       string `json:"text"`
	State      string `json:"state"`
	Categories struct {
		Team       string `json:"team"`
		Department string `json:"department"`
		Location   string `json:"location"`
		Commitment string `json:"commitment"`
	} `json:"categories"`
	// UpdatedAt is epoch milliseconds.
	UpdatedAt int64 `json:"updatedAt"`
}

// Updated is UpdatedAt as a time; zero when Lever sent none.
func (p Posting) Updated() time.Time {
	if p.UpdatedAt == 0 {
		return time.Time{}
	}
	return time.UnixMilli(p.UpdatedAt)
}

// User is a user of the account.
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	AccessRole string `json:"accessRole"`
	// DeactivatedAt is epoch milliseconds, absent for active users.
	DeactivatedAt *int64 `json:"deactivatedAt"`
}

// ArchiveReason is a reason to archive an opportunity.
type ArchiveReason struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Type string `json:"type"` // hired, non-hired
}

// Stages lists every stage.
func (c *Client) Stages(ctx context.Context, a Auth) ([]Stage, error) {
	return list[Stage](ctx, c, a, "/stages", nil)
}

// Postings lists every posting, whatever its state.
func (c *Client) Postings(ctx context.Context, a Auth) ([]Posting, error) {
	return list[Posting](ctx, c, a, "/postings", nil)
}

// Users lists every user, deactivated ones too (a recruiter who left
// still authored history).
func (c *Client) Users(ctx context.Context, a Auth) ([]User, error) {
	return list[User](ctx, c, a, "/users", url.Values{"includeDeactivated": {"true"}})
}

// ArchiveReasons lists every archive reason.
func (c *Client) ArchiveReasons(ctx context.Context, a Auth) ([]ArchiveReason, error) {
	return list[ArchiveReason](ctx, c, a, "/archive_reasons", nil)
}

type pageJSON[T any] struct {
	Data    []T    `json:"data"`
	HasNext bool   `json:"hasNext"`
	Next    string `json:"next"`
}

// list reads every page of path: offset is Lever's `next`, passed back
// unchanged.
func list[T any](ctx context.Context, c *Client, a Auth, path string, q url.Values) ([]T, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("limit", fmt.Sprint(pageSize))
	var out []T
	seen := map[string]bool{}
	for range maxPages {
		var p pageJSON[T]
		if err := c.get(ctx, a, path, q, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Data...)
		if !p.HasNext {
			return out, nil
		}
		if p.Next == "" || seen[p.Next] {
			return nil, fmt.Errorf("%w: %s: hasNext without a new next token", ErrUnexpectedResponse, path)
		}
		seen[p.Next] = true
		q.Set("offset", p.Next)
	}
	return nil, fmt.Errorf("%w: %s: more than %d pages", ErrUnexpectedResponse, path, maxPages)
}

func (c *Client) get(ctx context.Context, a Auth, path string, q url.Values, into any) error {
	return c.do(ctx, a, http.MethodGet, path, q, nil, into)
}

// do sends one request (body, when not nil, as JSON) and decodes Lever's
// answer into into (when not nil). Non-2xx answers are *APIError.
func (c *Client) do(ctx context.Context, a Auth, method, path string, q url.Values, body any, into any) error {
	if a.ConnectionID == "" || a.Token == "" {
		return errors.New("lever: a connection and its token are required")
	}
	ctx = providerhttp.WithKey(ctx, a.ConnectionID)
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("lever: %s %s: encoding the body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("lever: request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ra *providerhttp.RetryAfterError
		if errors.As(err, &ra) || ctx.Err() != nil {
			return fmt.Errorf("lever: %s %s: %w", method, path, err)
		}
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBody+1))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading the response: %w", ErrUnavailable, method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(method, path, resp.StatusCode, data)
	}
	if len(data) > maxPageBody {
		return fmt.Errorf("%w: %s %s: a body over %d bytes", ErrUnexpectedResponse, method, path, maxPageBody)
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%w: %s %s: the body is not Lever's JSON", ErrUnexpectedResponse, method, path)
	}
	return nil
}
