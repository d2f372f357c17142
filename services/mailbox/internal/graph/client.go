// Package graph talks to Microsoft Graph's mail API for one mailbox at a
// time (providers.md §3.6–3.9): its profile and addresses, drafts, sending
// a draft, replies, and finding a message again by its Message-ID.
//
// Every call names the mailbox it is for: the mailbox's access token comes
// from a TokenSource (identity's vault), and the mailbox id is the
// providerhttp limit key, so the shared limiter, the concurrency semaphore
// (Graph's 4 per mailbox) and a 429's Retry-After hold for that mailbox on
// every replica, and for that mailbox only.
//
// Errors are *Error: permanent, temporary or throttled, with the Retry-After
// and whether the outcome of a create or send is unknown; never Graph's
// message text or a body. Every request asks for immutable ids (`Prefer:
// IdType="ImmutableId"`), so a message keeps its id when it moves from
// Drafts to Sent Items.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// DefaultBaseURL is the local Graph simulator; production sets
// https://graph.microsoft.com.
const DefaultBaseURL = "http://127.0.0.1:9202"

// maxResponseBody caps what is read of one answer. A message with its body
// is at most a few megabytes (Graph refuses requests over 4 MB).
const maxResponseBody = 8 << 20

// TokenSource hands out a working access token of a mailbox's connection
// (identity's GetAccessToken).
type TokenSource interface {
	AccessToken(ctx context.Context, connectionID string) (string, error)
}

// Options configure a Client.
type Options struct {
	// BaseURL is Graph's root without the version: https://graph.microsoft.com,
	// or the simulator's http://127.0.0.1:9202. Default DefaultBaseURL.
	BaseURL string
	Tokens  TokenSource
	// HTTP sends the requests; default a providerhttp client named "graph".
	// Its limiter and semaphore, if any, apply per mailbox.
	HTTP *providerhttp.Client
	// SendHTTP sends the send of a draft; default HTTP. It should wait for
	// nothing (a tiny MaxRetryAfter, same limits): a send held back by a
	// Retry-After must come back to the caller, whose per-minute slot was
	// taken for now, not for whenever the wait ends.
	SendHTTP *providerhttp.Client
}

// Client calls Graph for any mailbox. It is safe for concurrent use.
type Client struct {
	base     string
	tokens   TokenSource
	http     *providerhttp.Client
	sendHTTP *providerhttp.Client
}

// New checks o and returns a client.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("graph: base URL must be an absolute http(s) URL without a query")
	}
	if o.Tokens == nil {
		return nil, errors.New("graph: a token source is required")
	}
	if o.HTTP == nil {
		o.HTTP = providerhttp.New(providerhttp.Options{Provider: "graph"})
	}
	if o.SendHTTP == nil {
		o.SendHTTP = o.HTTP
	}
	return &Client{base: u.String() + "/v1.0", tokens: o.Tokens, http: o.HTTP, sendHTTP: o.SendHTTP}, nil
}

// Mailbox names the mailbox a call is for: its identity connection id,
// which is also its limit key.
type Mailbox struct {
	ConnectionID string
}

// Recipient is an address a message goes to.
type Recipient struct {
	Address string
	Name    string
}

// Header is an internet message header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Draft is what a new draft (or a reply draft) carries.
type Draft struct {
	Subject string
	HTML    string
	To, Cc  []Recipient
	// Headers are custom x- headers, e.g. the message's key.
	Headers []Header
}

// Message is what the client reads of a message.
type Message struct {
	ID                string
	InternetMessageID string
	ConversationID    string
	ParentFolderID    string
	Subject           string
	IsDraft           bool
	SentAt            time.Time
	Headers           []Header
}

// HeaderValue returns the first header called name (case-insensitive).
func (m Message) HeaderValue(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Profile is the mailbox's user.
type Profile struct {
	ID                string
	Mail              string
	UserPrincipalName string
	// Addresses are every SMTP address that delivers to the mailbox: mail
	// and the smtp: proxy addresses, lower case, mail first. The UPN is
	// not among them unless it is one of those.
	Addresses []string
}

// Me reads the mailbox owner's profile and addresses.
func (c *Client) Me(ctx context.Context, mb Mailbox) (Profile, error) {
	var out struct {
		ID                string   `json:"id"`
		Mail              *string  `json:"mail"`
		UserPrincipalName string   `json:"userPrincipalName"`
		ProxyAddresses    []string `json:"proxyAddresses"`
	}
	q := url.Values{"$select": {"id,mail,userPrincipalName,proxyAddresses"}}
	if err := c.call(ctx, mb, "me", http.MethodGet, "/me?"+q.Encode(), nil, http.StatusOK, &out, true); err != nil {
		return Profile{}, err
	}
	p := Profile{ID: out.ID, UserPrincipalName: out.UserPrincipalName}
	if out.Mail != nil {
		p.Mail = strings.ToLower(strings.TrimSpace(*out.Mail))
	}
	p.Addresses = ownAddresses(p.Mail, out.ProxyAddresses)
	return p, nil
}

// ownAddresses is mail and the SMTP proxy addresses ("SMTP:" marks the
// primary, "smtp:" the others; "X500:", "SIP:" and the like are not mail
// addresses), lower case, without repeats.
func ownAddresses(mail string, proxies []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || !strings.Contains(a, "@") || seen[a] {
			return
		}
		seen[a] = true
		out = append(out, a)
	}
	add(mail)
	for _, p := range proxies {
		if kind, addr, ok := strings.Cut(p, ":"); ok {
			if strings.EqualFold(kind, "smtp") {
				add(addr)
			}
			continue
		}
		add(p)
	}
	return out
}

type emailJSON struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

type recipientJSON struct {
	EmailAddress emailJSON `json:"emailAddress"`
}

type bodyJSON struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

type messageJSON struct {
	ID                     string          `json:"id,omitempty"`
	Subject                *string         `json:"subject,omitempty"`
	Body                   *bodyJSON       `json:"body,omitempty"`
	ToRecipients           []recipientJSON `json:"toRecipients,omitempty"`
	CcRecipients           []recipientJSON `json:"ccRecipients,omitempty"`
	InternetMessageHeaders []Header        `json:"internetMessageHeaders,omitempty"`
	InternetMessageID      string          `json:"internetMessageId,omitempty"`
	ConversationID         string          `json:"conversationId,omitempty"`
	ParentFolderID         string          `json:"parentFolderId,omitempty"`
	IsDraft                *bool           `json:"isDraft,omitempty"`
	SentDateTime           string          `json:"sentDateTime,omitempty"`
}

func recipients(rs []Recipient) []recipientJSON {
	out := make([]recipientJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, recipientJSON{EmailAddress: emailJSON(r)})
	}
	return out
}

func (m messageJSON) message() Message {
	out := Message{ID: m.ID, InternetMessageID: m.InternetMessageID, ConversationID: m.ConversationID,
		ParentFolderID: m.ParentFolderID, Headers: m.InternetMessageHeaders}
	if m.Subject != nil {
		out.Subject = *m.Subject
	}
	if m.IsDraft != nil {
		out.IsDraft = *m.IsDraft
	}
	if t, err := time.Parse(time.RFC3339, m.SentDateTime); err == nil {
		out.SentAt = t
	}
	return out
}

// CreateDraft creates a draft in the mailbox's Drafts folder (201) and
// returns it with its immutable id, internetMessageId and conversationId.
// It is sent once: a draft whose outcome is unknown is found again, or
// orphaned and cleaned up, by the caller.
func (c *Client) CreateDraft(ctx context.Context, mb Mailbox, d Draft) (Message, error) {
	subject := d.Subject
	in := messageJSON{
		Subject:                &subject,
		Body:                   &bodyJSON{ContentType: "HTML", Content: d.HTML},
		ToRecipients:           recipients(d.To),
		CcRecipients:           recipients(d.Cc),
		InternetMessageHeaders: d.Headers,
	}
	var out messageJSON
	if err := c.call(ctx, mb, "createDraft", http.MethodPost, "/me/messages", in, http.StatusCreated, &out, false); err != nil {
		return Message{}, err
	}
	return out.message(), nil
}

// CreateReply creates a reply draft to the message replyTo (201): Graph
// sets the subject, In-Reply-To, References and the conversation. d's
// subject is ignored; its recipients replace the reply's own only when
// given.
func (c *Client) CreateReply(ctx context.Context, mb Mailbox, replyTo string, d Draft) (Message, error) {
	if replyTo == "" {
		return Message{}, errors.New("graph: createReply: the message to reply to is required")
	}
	msg := messageJSON{Body: &bodyJSON{ContentType: "HTML", Content: d.HTML}, InternetMessageHeaders: d.Headers}
	if len(d.To) > 0 {
		msg.ToRecipients = recipients(d.To)
	}
	if len(d.Cc) > 0 {
		msg.CcRecipients = recipients(d.Cc)
	}
	in := struct {
		Message messageJSON `json:"message"`
	}{msg}
	var out messageJSON
	if err := c.call(ctx, mb, "createReply", http.MethodPost, "/me/messages/"+url.PathEscape(replyTo)+"/createReply", in, http.StatusCreated, &out, false); err != nil {
		return Message{}, err
	}
	return out.message(), nil
}

// Send sends a draft (202). It is never sent again by the client: a send
// whose answer was lost may have left, and only the caller, from what it
// recorded and what the mailbox shows, can tell.
func (c *Client) Send(ctx context.Context, mb Mailbox, draftID string) error {
	return c.call(ctx, mb, "send", http.MethodPost, "/me/messages/"+url.PathEscape(draftID)+"/send", nil, http.StatusAccepted, nil, false)
}

var messageSelect = "id,internetMessageId,conversationId,parentFolderId,subject,isDraft,sentDateTime,internetMessageHeaders"

// GetMessage reads a message by its immutable id; a missing one is an
// *Error wrapping ErrNotFound.
func (c *Client) GetMessage(ctx context.Context, mb Mailbox, id string) (Message, error) {
	var out messageJSON
	q := url.Values{"$select": {messageSelect}}
	if err := c.call(ctx, mb, "getMessage", http.MethodGet, "/me/messages/"+url.PathEscape(id)+"?"+q.Encode(), nil, http.StatusOK, &out, true); err != nil {
		return Message{}, err
	}
	return out.message(), nil
}

// FindByInternetMessageID lists the messages of a folder (a well-known
// name: "sentitems", "drafts") whose Message-ID is id.
func (c *Client) FindByInternetMessageID(ctx context.Context, mb Mailbox, folder, id string) ([]Message, error) {
	q := url.Values{
		"$filter": {"internetMessageId eq '" + strings.ReplaceAll(id, "'", "''") + "'"},
		"$select": {messageSelect},
		"$top":    {"10"},
	}
	var out struct {
		Value []messageJSON `json:"value"`
	}
	if err := c.call(ctx, mb, "findMessage", http.MethodGet, "/me/mailFolders/"+url.PathEscape(folder)+"/messages?"+q.Encode(), nil, http.StatusOK, &out, true); err != nil {
		return nil, err
	}
	list := make([]Message, 0, len(out.Value))
	for _, m := range out.Value {
		list = append(list, m.message())
	}
	return list, nil
}

// DraftPage is one page of the Drafts folder.
type DraftPage struct {
	Messages []Message
	// Next is the link to the next page; empty on the last.
	Next string
}

// ListDrafts reads a page of the Drafts folder with headers; next is the
// Next of the page before, or empty for the first.
func (c *Client) ListDrafts(ctx context.Context, mb Mailbox, next string) (DraftPage, error) {
	path := "/me/mailFolders/drafts/messages?" + url.Values{"$select": {messageSelect}, "$top": {"50"}}.Encode()
	if next != "" {
		if !strings.HasPrefix(next, c.base+"/") {
			return DraftPage{}, fmt.Errorf("%w: a next link outside Graph", ErrUnexpectedResponse)
		}
		path = strings.TrimPrefix(next, c.base)
	}
	var out struct {
		Value    []messageJSON `json:"value"`
		NextLink string        `json:"@odata.nextLink"`
	}
	if err := c.call(ctx, mb, "listDrafts", http.MethodGet, path, nil, http.StatusOK, &out, true); err != nil {
		return DraftPage{}, err
	}
	page := DraftPage{Next: out.NextLink}
	for _, m := range out.Value {
		page.Messages = append(page.Messages, m.message())
	}
	return page, nil
}

// DeleteMessage deletes a message (a draft we will never send). A message
// already gone is not an error.
func (c *Client) DeleteMessage(ctx context.Context, mb Mailbox, id string) error {
	err := c.call(ctx, mb, "deleteMessage", http.MethodDelete, "/me/messages/"+url.PathEscape(id), nil, http.StatusNoContent, nil, true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// call sends one request for mb and decodes a want answer into out.
// retrySafe marks a request that may be sent again when its outcome is
// unknown.
func (c *Client) call(ctx context.Context, mb Mailbox, op, method, path string, in any, want int, out any, retrySafe bool) error {
	if mb.ConnectionID == "" {
		return fmt.Errorf("graph: %s: the mailbox is required", op)
	}
	token, err := c.tokens.AccessToken(ctx, mb.ConnectionID)
	if err != nil {
		return fmt.Errorf("graph: %s: %w: %w", op, ErrNoToken, err)
	}
	ctx = providerhttp.WithKey(ctx, mb.ConnectionID)
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("graph: %s: encoding the request: %w", op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("graph: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	// Microsoft echoes client-request-id, which ties our logs to theirs.
	req.Header.Set("client-request-id", uuid.NewString())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if retrySafe {
		req = providerhttp.RetrySafe(req)
	}
	hc := c.http
	if op == "send" {
		hc = c.sendHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(ctx, op, method, retrySafe, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return &Error{Op: op, Kind: Temporary, StatusCode: resp.StatusCode, OutcomeUnknown: resp.StatusCode == want, Err: ctx.Err()}
		}
		return &Error{Op: op, Kind: Temporary, StatusCode: resp.StatusCode, OutcomeUnknown: !retrySafe && resp.StatusCode == want, Err: fmt.Errorf("reading the response: %w", err)}
	}
	if resp.StatusCode == want {
		if out == nil {
			return nil
		}
		if len(data) > maxResponseBody {
			return &Error{Op: op, Kind: Permanent, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: answer over %d bytes", ErrUnexpectedResponse, maxResponseBody)}
		}
		if err := json.Unmarshal(data, out); err != nil {
			// The JSON error could quote the body, which holds mail.
			return &Error{Op: op, Kind: Temporary, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: %d with a body that is not JSON", ErrUnexpectedResponse, resp.StatusCode)}
		}
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// A refused token (revoked, or rotated away) is not asked for
		// again: the next call fetches a fresh one from identity.
		if f, ok := c.tokens.(interface{ Forget(connectionID string) }); ok {
			f.Forget(mb.ConnectionID)
		}
	}
	return decodeError(op, method, retrySafe, resp, data)
}

// transportError classifies a failure that came back without an answer.
func transportError(ctx context.Context, op, method string, retrySafe bool, err error) error {
	var ra *providerhttp.RetryAfterError
	if errors.As(err, &ra) {
		// 429s and 503s with Retry-After were refused, so not processed;
		// attempts that ran out on bare 5xx were retried, which
		// providerhttp only does for requests safe to repeat.
		if ra.StatusCode == 0 || ra.StatusCode == http.StatusTooManyRequests || ra.StatusCode == http.StatusServiceUnavailable {
			return &Error{Op: op, Kind: Throttled, StatusCode: ra.StatusCode, RetryAfter: ra.RetryAfter, Err: err}
		}
		return &Error{Op: op, Kind: Temporary, StatusCode: ra.StatusCode, RetryAfter: ra.RetryAfter, Err: err}
	}
	unknown := !retrySafe && method != http.MethodGet && !neverSent(err)
	if ctx.Err() != nil {
		return &Error{Op: op, Kind: Temporary, OutcomeUnknown: unknown, Err: ctx.Err()}
	}
	return &Error{Op: op, Kind: Temporary, OutcomeUnknown: unknown, Err: err}
}

// neverSent reports whether the connection was never made, so the request
// cannot have reached Graph.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// errorJSON is Graph's error body (providers.md §3.9).
type errorJSON struct {
	Error struct {
		Code       string `json:"code"`
		InnerError struct {
			RequestID string `json:"request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func decodeError(op, method string, retrySafe bool, resp *http.Response, data []byte) error {
	e := &Error{Op: op, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("request-id")}
	var ej errorJSON
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")) //nolint:errcheck // an unparsable type leaves mt empty: maybe JSON, tried below
	if (mt == "application/json" || mt == "") && json.Unmarshal(data, &ej) == nil {
		e.Code = ej.Error.Code
		if e.RequestID == "" {
			e.RequestID = ej.Error.InnerError.RequestID
		}
	}
	if ra, ok := providerhttp.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = ra
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || (s == http.StatusServiceUnavailable && e.RetryAfter > 0):
		e.Kind = Throttled
	case s == http.StatusNotFound:
		e.Kind, e.Err = Permanent, ErrNotFound
	case s == http.StatusUnauthorized || s == http.StatusRequestTimeout || s >= 500:
		// 401: the vault refreshes tokens ahead of expiry, so a refused
		// one is a race with its rotation or a revocation the vault will
		// see on its next refresh; either way a later try tells.
		e.Kind = Temporary
		// A proxy may have passed a POST on before failing.
		e.OutcomeUnknown = s >= 500 && !retrySafe && method != http.MethodGet
	case s >= 400:
		e.Kind = Permanent
	default:
		e.Kind, e.Err = Permanent, fmt.Errorf("%w: HTTP %d", ErrUnexpectedResponse, s)
	}
	return e
}
