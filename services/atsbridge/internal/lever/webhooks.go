package lever

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	err := c.do(ctx, a, http.MethodPost, "/webhooks", nil, map[string]any{"url": target, "event": event}, &out)
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
