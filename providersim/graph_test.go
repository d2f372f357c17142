package providersim_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

const candidate = "jordan.lee@gmail.example"

func TestGraphAuthentication(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	status, hdr, raw := e.graphCall("GET", "/v1.0/me/messages", "", nil)
	if status != 401 || graphErrorCode(t, raw) != "InvalidAuthenticationToken" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/me/messages", "EwBnot-a-token", nil)
	if status != 401 || graphErrorCode(t, raw) != "InvalidAuthenticationToken" {
		t.Errorf("unknown token: %d %s", status, raw)
	}
	e.graphJSON("GET", "/v1.0/users/"+providersim.DemoContosoUser+"/messages", token, nil, 200)
	adele := e.user(providersim.DemoContosoUser)
	e.graphJSON("GET", "/v1.0/users/"+adele.ID+"/mailFolders/inbox", token, nil, 200)
	status, _, raw = e.graphCall("GET", "/v1.0/users/"+providersim.DemoContosoAdmin+"/messages", token, nil)
	if status != 403 || graphErrorCode(t, raw) != "ErrorAccessDenied" {
		t.Errorf("another user's mailbox: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/users/nobody@contoso.example/messages", token, nil)
	if status != 404 || graphErrorCode(t, raw) != "ErrorInvalidUser" {
		t.Errorf("unknown user: %d %s", status, raw)
	}
	if n, err := e.c.ExpireTokens(e.ctx, simclient.TokenFilter{UserID: providersim.DemoContosoUser, Kind: simclient.TokenAccess}); err != nil || n == 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/me/messages", token, nil)
	if status != 401 || !strings.Contains(string(raw), "Lifetime validation failed") {
		t.Errorf("expired token: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v2.0/me", token, nil)
	if status != 400 {
		t.Errorf("unknown version: %d %s", status, raw)
	}
}

func TestGraphScopesPerCall(t *testing.T) {
	e := start(t)
	signIn := e.tokens(providersim.DemoContosoUser, signInScopes).AccessToken
	e.graphJSON("GET", "/v1.0/me", signIn, nil, 200)
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1.0/me/sendMail"}, {"GET", "/v1.0/me/messages"}, {"POST", "/v1.0/me/messages"},
		{"GET", "/v1.0/me/mailFolders/inbox/messages/delta"}, {"POST", "/v1.0/subscriptions"},
	} {
		status, _, raw := e.graphCall(c.method, c.path, signIn, map[string]any{})
		if status != 403 || graphErrorCode(t, raw) != "ErrorAccessDenied" {
			t.Errorf("%s %s with sign-in scopes: %d %s", c.method, c.path, status, raw)
		}
	}
	// Mail.ReadWrite drafts but does not send.
	rw := e.graphToken(providersim.DemoContosoAdmin, "Mail.ReadWrite")
	draft := e.graphJSON("POST", "/v1.0/me/messages", rw, mail(candidate), 201)
	status, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+draft["id"].(string)+"/send", rw, nil)
	if status != 403 || graphErrorCode(t, raw) != "ErrorAccessDenied" {
		t.Errorf("send with Mail.ReadWrite only: %d %s", status, raw)
	}
	// Mail.ReadBasic reads metadata without bodies.
	basic := e.graphToken(providersim.DemoFabrikamAdmin, "Mail.ReadBasic")
	fabrikam := e.graphToken(providersim.DemoFabrikamUser)
	e.graphJSON("POST", "/v1.0/me/sendMail", fabrikam, map[string]any{"message": mail(providersim.DemoFabrikamAdmin)}, 202)
	list := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages", basic, nil, 200)
	msgs := list["value"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("inbox %v", list)
	}
	m := msgs[0].(map[string]any)
	if _, ok := m["body"]; ok || m["subject"] == nil {
		t.Errorf("Mail.ReadBasic returned %v", m)
	}
}

func TestSendMail(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	msg := mail(candidate, providersim.DemoContosoAdmin)
	msg["ccRecipients"] = []any{map[string]any{"emailAddress": map[string]any{"address": "hiring.manager@contoso.example"}}}
	msg["internetMessageHeaders"] = []any{map[string]any{"name": "x-tandem-send-id", "value": "send-0001"}}
	status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": msg})
	if status != 202 || len(raw) != 0 {
		t.Fatalf("sendMail: %d %q", status, raw)
	}
	sent, err := e.c.Messages(e.ctx, providersim.DemoContosoUser, "sentitems")
	if err != nil || len(sent) != 1 {
		t.Fatalf("sent items %v %v", sent, err)
	}
	id := sent[0].InternetMessageID
	if !strings.HasPrefix(id, "<") || sent[0].HeaderValue("x-tandem-send-id") != "send-0001" {
		t.Errorf("sent item %+v", sent[0])
	}
	ext, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ext) != 1 || ext[0].InternetMessageID != id || ext[0].HeaderValue("X-Tandem-Send-Id") != "send-0001" || ext[0].From.Address != providersim.DemoContosoUser {
		t.Errorf("candidate received %+v", ext)
	}
	if cc, err := e.c.Messages(e.ctx, "hiring.manager@contoso.example", ""); err != nil || len(cc) != 1 {
		t.Errorf("cc recipient received %d (err %v)", len(cc), err)
	}
	// A recipient in a simulated tenant finds it in their Inbox through Graph.
	megan := e.graphToken(providersim.DemoContosoAdmin)
	q := url.Values{"$filter": {"internetMessageId eq '" + id + "'"}, "$select": {"subject,internetMessageHeaders,conversationId"}}
	list := e.graphJSON("GET", "/v1.0/me/mailFolders('Inbox')/messages?"+q.Encode(), megan, nil, 200)
	got := list["value"].([]any)
	if len(got) != 1 {
		t.Fatalf("filter by internetMessageId: %v", list)
	}
	headers := map[string]string{}
	for _, h := range got[0].(map[string]any)["internetMessageHeaders"].([]any) {
		hm := h.(map[string]any)
		headers[hm["name"].(string)] = hm["value"].(string)
	}
	if headers["Message-ID"] != id || headers["x-tandem-send-id"] != "send-0001" {
		t.Errorf("received headers %v", headers)
	}
	if got[0].(map[string]any)["conversationId"] != sent[0].ConversationID {
		t.Error("conversationId differs between sender and recipient")
	}

	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate), "saveToSentItems": false}, 202)
	if sent, err := e.c.Messages(e.ctx, providersim.DemoContosoUser, "sentitems"); err != nil || len(sent) != 1 {
		t.Errorf("saveToSentItems=false saved: %d (err %v)", len(sent), err)
	}
	if ext, err := e.c.Messages(e.ctx, candidate, ""); err != nil || len(ext) != 2 {
		t.Errorf("candidate has %d messages (err %v)", len(ext), err)
	}

	for _, c := range []struct {
		name string
		body any
		code string
	}{
		{"no recipients", map[string]any{"message": map[string]any{"subject": "x"}}, "ErrorInvalidRecipients"},
		{"bad recipient", map[string]any{"message": mail("not an address")}, "ErrorInvalidRecipients"},
		{"header without x-", map[string]any{"message": withHeaders(mail(candidate), "Tandem-Id")}, "InvalidInternetMessageHeader"},
		{"six headers", map[string]any{"message": withHeaders(mail(candidate), "x-a", "x-b", "x-c", "x-d", "x-e", "x-f")}, "InvalidInternetMessageHeaderCollection"},
		{"no message", map[string]any{"saveToSentItems": true}, "ErrorInvalidParameter"},
		{"not JSON", "{", "BadRequest"},
	} {
		status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, c.body)
		if status != 400 || graphErrorCode(t, raw) != c.code {
			t.Errorf("%s: %d %s", c.name, status, raw)
		}
	}

	// The MIME variant.
	mimeMsg := "From: Adele Vance <adele.vance@contoso.example>\r\nTo: " + candidate + "\r\nSubject: MIME hello\r\nX-Tandem-Send-Id: mime-1\r\nContent-Type: text/plain\r\n\r\nHello from MIME.\r\n"
	status, _, raw = e.graphCall("POST", "/v1.0/me/sendMail", token, base64.StdEncoding.EncodeToString([]byte(mimeMsg)), "Content-Type", "text/plain")
	if status != 202 {
		t.Fatalf("MIME sendMail: %d %s", status, raw)
	}
	ext, err = e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	if last := ext[len(ext)-1]; last.Subject != "MIME hello" || last.HeaderValue("x-tandem-send-id") != "mime-1" {
		t.Errorf("MIME message %+v", last)
	}
	status, _, raw = e.graphCall("POST", "/v1.0/me/sendMail", token, "%%% not base64", "Content-Type", "text/plain")
	if status != 400 || graphErrorCode(t, raw) != "ErrorMimeContentInvalidBase64String" {
		t.Errorf("bad MIME: %d %s", status, raw)
	}
}

func withHeaders(m map[string]any, names ...string) map[string]any {
	var hs []any
	for _, n := range names {
		hs = append(hs, map[string]any{"name": n, "value": "v"})
	}
	m["internetMessageHeaders"] = hs
	return m
}

func TestDraftThenSend(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	folders := e.graphJSON("GET", "/v1.0/me/mailFolders", token, nil, 200)
	ids := map[string]string{}
	for _, f := range folders["value"].([]any) {
		m := f.(map[string]any)
		ids[m["displayName"].(string)] = m["id"].(string)
	}
	if ids["Inbox"] == "" || ids["Sent Items"] == "" || ids["Drafts"] == "" {
		t.Fatalf("folders %v", ids)
	}

	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	id := draft["id"].(string)
	if draft["isDraft"] != true || draft["parentFolderId"] != ids["Drafts"] || draft["conversationId"] == "" ||
		!strings.HasPrefix(draft["internetMessageId"].(string), "<") {
		t.Fatalf("draft %v", draft)
	}
	status, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+id+"/send", token, nil)
	if status != 202 || len(raw) != 0 {
		t.Fatalf("send: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/me/messages/"+id, token, nil)
	if status != 404 || graphErrorCode(t, raw) != "ErrorItemNotFound" {
		t.Errorf("old id after send: %d %s", status, raw)
	}
	sent := e.graphJSON("GET", "/v1.0/me/mailFolders/sentitems/messages", token, nil, 200)["value"].([]any)
	if len(sent) != 1 {
		t.Fatalf("sent items %v", sent)
	}
	s := sent[0].(map[string]any)
	if s["id"] == id || s["internetMessageId"] != draft["internetMessageId"] || s["isDraft"] != false || s["parentFolderId"] != ids["Sent Items"] {
		t.Errorf("sent item %v", s)
	}

	// With immutable ids the id survives the move.
	imm := []string{"Prefer", `IdType="ImmutableId"`}
	draft = e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201, imm...)
	id = draft["id"].(string)
	e.graphJSON("POST", "/v1.0/me/messages/"+id+"/send", token, nil, 202, imm...)
	got := e.graphJSON("GET", "/v1.0/me/messages/"+id, token, nil, 200, imm...)
	if got["id"] != id || got["parentFolderId"] != ids["Sent Items"] || got["internetMessageId"] != draft["internetMessageId"] {
		t.Errorf("immutable id after send: %v", got)
	}
	status, _, raw = e.graphCall("POST", "/v1.0/me/messages/"+id+"/send", token, nil, imm...)
	if status != 400 {
		t.Errorf("sending a sent message: %d %s", status, raw)
	}
	empty := e.graphJSON("POST", "/v1.0/me/messages", token, map[string]any{"subject": "no one"}, 201)
	status, _, raw = e.graphCall("POST", "/v1.0/me/messages/"+empty["id"].(string)+"/send", token, nil)
	if status != 400 || graphErrorCode(t, raw) != "ErrorInvalidRecipients" {
		t.Errorf("draft without recipients: %d %s", status, raw)
	}
}

func TestRepliesThreadInTheConversation(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	imm := []string{"Prefer", `IdType="ImmutableId"`}
	first := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201, imm...)
	e.graphJSON("POST", "/v1.0/me/messages/"+first["id"].(string)+"/send", token, nil, 202, imm...)
	firstID := first["internetMessageId"].(string)

	// A follow-up step answers our own message: it goes to its recipients.
	e.graphJSON("POST", "/v1.0/me/messages/"+first["id"].(string)+"/reply", token, map[string]any{"comment": "Just following up."}, 202, imm...)
	ext, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ext) != 2 {
		t.Fatalf("candidate has %d messages", len(ext))
	}
	follow := ext[1]
	if follow.Subject != "RE: Senior Go engineer at Contoso" || follow.HeaderValue("In-Reply-To") != firstID ||
		follow.HeaderValue("References") != firstID || follow.ConversationID != first["conversationId"] ||
		!strings.HasPrefix(follow.Body, "Just following up.") {
		t.Errorf("follow-up %+v", follow)
	}

	// The candidate answers; we reply to that with a draft.
	answer, err := e.c.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: follow.InternetMessageID, Body: "Sure, let's talk."})
	if err != nil {
		t.Fatal(err)
	}
	inbox := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages", token, nil, 200, imm...)["value"].([]any)
	if len(inbox) != 1 {
		t.Fatalf("inbox %v", inbox)
	}
	in := inbox[0].(map[string]any)
	if in["internetMessageId"] != answer.InternetMessageID || in["conversationId"] != first["conversationId"] {
		t.Errorf("reply in inbox %v", in)
	}
	inID := in["id"].(string)
	status, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+inID+"/createReply", token,
		map[string]any{"comment": "a", "message": map[string]any{"body": map[string]any{"contentType": "Text", "content": "b"}}})
	if status != 400 {
		t.Errorf("createReply with comment and body: %d %s", status, raw)
	}
	draft := e.graphJSON("POST", "/v1.0/me/messages/"+inID+"/createReply", token, map[string]any{"comment": "Great, how about Tuesday?"}, 201, imm...)
	to := draft["toRecipients"].([]any)
	if draft["isDraft"] != true || draft["subject"] != "RE: Senior Go engineer at Contoso" || len(to) != 1 ||
		to[0].(map[string]any)["emailAddress"].(map[string]any)["address"] != candidate {
		t.Errorf("reply draft %v", draft)
	}
	patched := e.graphJSON("PATCH", "/v1.0/me/messages/"+draft["id"].(string), token, map[string]any{"subject": "Re: Tuesday"}, 200, imm...)
	if patched["subject"] != "Re: Tuesday" {
		t.Errorf("patched %v", patched)
	}
	e.graphJSON("POST", "/v1.0/me/messages/"+draft["id"].(string)+"/send", token, nil, 202, imm...)
	ext, err = e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	last := ext[len(ext)-1]
	if last.HeaderValue("In-Reply-To") != answer.InternetMessageID || !strings.Contains(last.HeaderValue("References"), firstID) || last.ConversationID != first["conversationId"] {
		t.Errorf("sent reply draft %+v", last)
	}
	// The received message cannot be edited like a draft.
	status, _, raw = e.graphCall("PATCH", "/v1.0/me/messages/"+inID, token, map[string]any{"subject": "edited"}, imm...)
	if status != 400 {
		t.Errorf("editing a received message: %d %s", status, raw)
	}
	e.graphJSON("PATCH", "/v1.0/me/messages/"+inID, token, map[string]any{"isRead": true}, 200, imm...)
}

func TestListGetSelectAndFilter(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	for i := range 3 {
		if _, err := e.c.Inbound(e.ctx, simclient.InboundMessage{
			From: simclient.Address{Address: candidate}, To: []simclient.Address{{Address: providersim.DemoContosoUser}},
			Subject: "Question " + string(rune('A'+i)), Body: "body",
		}); err != nil {
			t.Fatal(err)
		}
	}
	page := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages?$top=2&$select=subject,from", token, nil, 200)
	if len(page["value"].([]any)) != 2 || page["@odata.nextLink"] == nil {
		t.Fatalf("page 1 %v", page)
	}
	m := page["value"].([]any)[0].(map[string]any)
	if len(m) != 4 || m["subject"] == nil || m["from"] == nil || m["id"] == nil || m["@odata.etag"] == nil {
		t.Errorf("$select gave %v", m)
	}
	page = e.graphJSON("GET", page["@odata.nextLink"].(string), token, nil, 200)
	if len(page["value"].([]any)) != 1 || page["@odata.nextLink"] != nil {
		t.Errorf("page 2 %v", page)
	}
	status, _, raw := e.graphCall("GET", "/v1.0/me/messages?$select=nonsense", token, nil)
	if status != 400 {
		t.Errorf("bad $select: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/me/messages?$filter=startswith(subject,'Q')", token, nil)
	if status != 400 || graphErrorCode(t, raw) != "ErrorInvalidUrlQueryFilter" {
		t.Errorf("unsupported $filter: %d %s", status, raw)
	}
	q := url.Values{"$filter": {"subject eq 'Question B' and isRead eq false"}}
	got := e.graphJSON("GET", "/v1.0/me/messages?"+q.Encode(), token, nil, 200)["value"].([]any)
	if len(got) != 1 {
		t.Fatalf("$filter: %v", got)
	}
	one := got[0].(map[string]any)
	full := e.graphJSON("GET", "/v1.0/me/messages/"+one["id"].(string), token, nil, 200)
	if full["subject"] != "Question B" || full["body"].(map[string]any)["content"] != "body" || full["bodyPreview"] != "body" {
		t.Errorf("get %v", full)
	}
	folder := e.graphJSON("GET", "/v1.0/me/mailFolders('inbox')", token, nil, 200)
	if folder["totalItemCount"] != float64(3) || folder["unreadItemCount"] != float64(3) {
		t.Errorf("inbox folder %v", folder)
	}
	status, _, _ = e.graphCall("GET", "/v1.0/me/mailFolders/nope/messages", token, nil)
	if status != 404 {
		t.Errorf("unknown folder: %d", status)
	}
	e.graphCall("DELETE", "/v1.0/me/messages/"+one["id"].(string), token, nil)
	if n := len(e.graphJSON("GET", "/v1.0/me/mailFolders/deleteditems/messages", token, nil, 200)["value"].([]any)); n != 1 {
		t.Errorf("deleted items %d", n)
	}
}
