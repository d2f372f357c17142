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
	"strconv"

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// Webhook events atsbridge subscribes to (providers.md §2.5).
const (
	EventCandidateStageChange   = "candidateStageChange"
	EventCandidateArchiveChange = "candidateArchiveChange"
)

// Webhook is an API-managed webhook with the token Lever signs its
// deliveries with.
type Webhook struct {
	ID             string `json:"id"`
	URL            string `json:"url"`
	Event          string `json:"event"`
	SignatureToken string `json:"signatureToken"`
}

// String hides the signature token.
func (h Webhook) String() string {
	return "lever.Webhook{id: " + h.ID + ", event: " + h.Event + ", url: " + h.URL + ", signatureToken: REDACTED}"
}

// Webhooks lists the account's webhooks.
func (c *Client) Webhooks(ctx context.Context, a Auth) ([]Webhook, error) {
	return list[Webhook](ctx, c, a, "/webhooks", nil)
}

// CreateWebhook registers a webhook for event at target. It is not safe to
// retry blindly (a second one would be made): callers list first and
// reuse theirs.
func (c *Client) CreateWebhook(ctx context.Context, a Auth, event, target string) (Webhook, error) {
	var out struct {
		Data Webhook `json:"data"`
	}
	err := c.callJSON(ctx, a, http.MethodPost, "/webhooks", nil, map[string]any{"url": target, "event": event}, &out)
	if err == nil && (out.Data.ID == "" || out.Data.SignatureToken == "") {
		err = fmt.Errorf("%w: POST /webhooks: no id or signature token", ErrUnexpectedResponse)
	}
	return out.Data, err
}

// ArchiveState is an opportunity's archive state; nil when it is active.
type ArchiveState struct {
	// ArchivedAt is epoch milliseconds.
	ArchivedAt int64  `json:"archivedAt"`
	Reason     string `json:"reason"`
}

// OpportunityPlace is what the inbound sync reads of an opportunity: where it
// is in the pipeline.
type OpportunityPlace struct {
	ID       string        `json:"id"`
	Stage    string        `json:"stage"`
	Archived *ArchiveState `json:"archived"`
	// UpdatedAt is epoch milliseconds.
	UpdatedAt int64 `json:"updatedAt"`
}

// OpportunityPlace reads where one opportunity is.
func (c *Client) OpportunityPlace(ctx context.Context, a Auth, id string) (OpportunityPlace, error) {
	var out struct {
		Data OpportunityPlace `json:"data"`
	}
	err := c.get(ctx, a, "/opportunities/"+url.PathEscape(id), url.Values{}, &out)
	return out.Data, err
}

// OpportunityPage is one page of opportunities; Next is Lever's opaque
// offset, empty on the last page.
type OpportunityPage struct {
	Opportunities []OpportunityPlace
	Next          string
}

// UpdatedOpportunities reads one page of the opportunities updated at or
// after updatedAtStart (epoch milliseconds; 0: all), from offset (a
// previous page's Next; empty: the first).
func (c *Client) UpdatedOpportunities(ctx context.Context, a Auth, updatedAtStart int64, offset string) (OpportunityPage, error) {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if updatedAtStart > 0 {
		q.Set("updated_at_start", strconv.FormatInt(updatedAtStart, 10))
	}
	if offset != "" {
		q.Set("offset", offset)
	}
	var p pageJSON[OpportunityPlace]
	if err := c.get(ctx, a, "/opportunities", q, &p); err != nil {
		return OpportunityPage{}, err
	}
	out := OpportunityPage{Opportunities: p.Data}
	if p.HasNext {
		if p.Next == "" || p.Next == offset {
			return OpportunityPage{}, fmt.Errorf("%w: /opportunities: hasNext without a new next token", ErrUnexpectedResponse)
		}
		out.Next = p.Next
	}
	return out, nil
}

// callJSON makes a write call with a JSON body.
func (c *Client) callJSON(ctx context.Context, a Auth, method, path string, q url.Values, body, into any) error {
	if a.ConnectionID == "" || a.Token == "" {
		return errors.New("lever: a connection and its token are required")
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("lever: %s %s: encode: %w", method, path, err)
	}
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	ctx = providerhttp.WithKey(ctx, a.ConnectionID)
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("lever: request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
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
		return decodeError(path, resp.StatusCode, data)
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
