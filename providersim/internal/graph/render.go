package graph

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// defaultFields are the message properties Graph returns without $select, in
// Graph's order. internetMessageHeaders and uniqueBody come only on $select.
var defaultFields = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime",
	"sentDateTime", "hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance",
	"parentFolderId", "conversationId", "conversationIndex", "isDeliveryReceiptRequested",
	"isReadReceiptRequested", "isRead", "isDraft", "webLink", "inferenceClassification", "body",
	"sender", "from", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "flag",
}

var allFields = func() map[string]string {
	m := map[string]string{"id": "id"}
	for _, f := range append(defaultFields, "internetMessageHeaders", "uniqueBody") {
		m[strings.ToLower(f)] = f
	}
	return m
}()

// bodyFields need Mail.Read; Mail.ReadBasic does not return them.
var bodyFields = map[string]bool{"body": true, "bodyPreview": true, "uniqueBody": true}

// selection is a parsed $select: the canonical names of the chosen
// properties, or nil for the default set.
type selection []string

func parseSelect(raw string) (selection, *graphError) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var sel selection
	for _, f := range strings.Split(raw, ",") {
		name, ok := allFields[strings.ToLower(strings.TrimSpace(f))]
		if !ok {
			return nil, badRequest("RequestBroker--ParseUri", "Could not find a property named '"+strings.TrimSpace(f)+"' on type 'microsoft.graph.message'.")
		}
		if name != "id" {
			sel = append(sel, name)
		}
	}
	return sel, nil
}

func gtime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func recipientJSON(a address) obj {
	return obj{{"emailAddress", obj{{"name", a.Name}, {"address", a.Address}}}}
}

func recipientsJSON(list []address) []obj {
	out := make([]obj, 0, len(list))
	for _, a := range list {
		out = append(out, recipientJSON(a))
	}
	return out
}

func optionalRecipient(a *address) any {
	if a == nil {
		return nil
	}
	return recipientJSON(*a)
}

var tagPattern = regexp.MustCompile(`<[^>]*>`)

func preview(m *message) string {
	text := m.body
	if m.bodyType == "html" {
		text = tagPattern.ReplaceAllString(text, " ")
	}
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 255 {
		text = string(r[:255])
	}
	return text
}

func (m *message) id(immutable bool) string {
	if immutable {
		return m.key
	}
	return m.restID
}

// renderMessage renders a message as Graph does, restricted to sel. basic
// leaves out the body properties (a Mail.ReadBasic token).
func (s *Service) renderMessage(m *message, sel selection, immutable, basic bool) obj {
	out := obj{{"@odata.etag", `W/"` + m.changeKey + `"`}, {"id", m.id(immutable)}}
	fields := []string(sel)
	if sel == nil {
		fields = defaultFields
	}
	for _, f := range fields {
		if basic && bodyFields[f] {
			continue
		}
		out = append(out, kv{f, s.messageField(m, f, immutable)})
	}
	return out
}

func (s *Service) messageField(m *message, f string, immutable bool) any {
	switch f {
	case "createdDateTime":
		return gtime(m.created)
	case "lastModifiedDateTime":
		return gtime(m.modified)
	case "changeKey":
		return m.changeKey
	case "categories":
		return []string{}
	case "receivedDateTime":
		return gtime(m.received)
	case "sentDateTime":
		return gtime(m.sent)
	case "hasAttachments":
		return len(m.attachments) > 0
	case "internetMessageId":
		return m.internetID
	case "subject":
		return m.subject
	case "bodyPreview":
		return preview(m)
	case "importance":
		return m.importance
	case "parentFolderId":
		return m.folder.id
	case "conversationId":
		return m.conversationID
	case "conversationIndex":
		return base64.StdEncoding.EncodeToString(m.conversationIndex)
	case "isDeliveryReceiptRequested", "isReadReceiptRequested":
		return false
	case "isRead":
		return m.isRead
	case "isDraft":
		return m.isDraft
	case "webLink":
		return "https://outlook.office365.com/owa/?ItemID=" + url.QueryEscape(m.id(immutable)) + "&exvsurl=1&viewmodel=ReadMessageItem"
	case "inferenceClassification":
		return "focused"
	case "body", "uniqueBody":
		return obj{{"contentType", m.bodyType}, {"content", m.body}}
	case "sender":
		return optionalRecipient(m.sender)
	case "from":
		return optionalRecipient(m.from)
	case "toRecipients":
		return recipientsJSON(m.to)
	case "ccRecipients":
		return recipientsJSON(m.cc)
	case "bccRecipients":
		return recipientsJSON(m.bcc)
	case "replyTo":
		return recipientsJSON(m.replyTo)
	case "flag":
		return obj{{"flagStatus", "notFlagged"}}
	case "internetMessageHeaders":
		if m.delivered {
			return m.transportHeaders()
		}
		hs := append([]header{}, m.custom...)
		return hs
	}
	return nil
}

// readBasicOnly reports whether a token may read mail metadata but not bodies.
func readBasicOnly(req *request) bool {
	return !req.principal.HasAny("Mail.Read", "Mail.ReadWrite")
}
