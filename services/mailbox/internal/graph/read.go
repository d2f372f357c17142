package graph

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// InboundMessage is what the inbound side reads of a message that arrived.
type InboundMessage struct {
	ID                string
	InternetMessageID string
	ConversationID    string
	Subject           string
	// From is the From address; Sender the address that sent it (a
	// delegate), both as Graph gives them.
	From       string
	Sender     string
	ReceivedAt time.Time
	// Preview is Graph's bodyPreview (text, 255 characters at most);
	// UniqueBody the body without the quoted thread (HTML when
	// UniqueBodyHTML).
	Preview        string
	UniqueBody     string
	UniqueBodyHTML bool
	// Body is the body; BodyHTML says it is HTML.
	Body     string
	BodyHTML bool
	Headers  []Header
	// MessageClass is Outlook's PR_MESSAGE_CLASS when Graph returned it
	// (IPM.Note, IPM.Note.Rules.OofTemplate.Microsoft, REPORT.IPM.Note.NDR).
	MessageClass string
}

// messageClassProperty is PR_MESSAGE_CLASS as a Graph extended property.
const messageClassProperty = "String 0x001A"

const inboundSelect = "id,internetMessageId,conversationId,subject,from,sender,receivedDateTime,bodyPreview,body,uniqueBody,internetMessageHeaders"

// GetInboundMessage reads a message that arrived, with its internet
// headers and its message class; a missing one (deleted since) is an
// *Error wrapping ErrNotFound.
func (c *Client) GetInboundMessage(ctx context.Context, mb Mailbox, id string) (InboundMessage, error) {
	q := url.Values{
		"$select": {inboundSelect},
		"$expand": {"singleValueExtendedProperties($filter=id eq '" + messageClassProperty + "')"},
	}
	var out struct {
		ID                string         `json:"id"`
		InternetMessageID string         `json:"internetMessageId"`
		ConversationID    string         `json:"conversationId"`
		Subject           string         `json:"subject"`
		From              *recipientJSON `json:"from"`
		Sender            *recipientJSON `json:"sender"`
		ReceivedDateTime  string         `json:"receivedDateTime"`
		BodyPreview       string         `json:"bodyPreview"`
		Body              *bodyJSON      `json:"body"`
		UniqueBody        *bodyJSON      `json:"uniqueBody"`
		Headers           []Header       `json:"internetMessageHeaders"`
		Properties        []struct {
			ID    string `json:"id"`
			Value string `json:"value"`
		} `json:"singleValueExtendedProperties"`
	}
	if err := c.call(ctx, mb, "getInboundMessage", http.MethodGet, "/me/messages/"+url.PathEscape(id)+"?"+q.Encode(), nil, http.StatusOK, &out, true); err != nil {
		return InboundMessage{}, err
	}
	m := InboundMessage{ID: out.ID, InternetMessageID: out.InternetMessageID, ConversationID: out.ConversationID,
		Subject: out.Subject, Preview: out.BodyPreview, Headers: out.Headers}
	if out.From != nil {
		m.From = out.From.EmailAddress.Address
	}
	if out.Sender != nil {
		m.Sender = out.Sender.EmailAddress.Address
	}
	if out.Body != nil {
		m.Body, m.BodyHTML = out.Body.Content, strings.EqualFold(out.Body.ContentType, "html")
	}
	if out.UniqueBody != nil {
		m.UniqueBody, m.UniqueBodyHTML = out.UniqueBody.Content, strings.EqualFold(out.UniqueBody.ContentType, "html")
	}
	if t, err := time.Parse(time.RFC3339, out.ReceivedDateTime); err == nil {
		m.ReceivedAt = t
	}
	for _, p := range out.Properties {
		if strings.EqualFold(p.ID, messageClassProperty) {
			m.MessageClass = p.Value
		}
	}
	return m, nil
}
