package providersim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Graph takes only https notification URLs; the loopback setting lets local
// receivers use http.
func TestNotificationURLsMustBeHTTPS(t *testing.T) {
	strict := start(t, func(o *providersim.Options) { o.AllowHTTPLoopbackNotifications = false })
	h := newHook(t)
	token := strict.graphToken(providersim.DemoContosoUser)
	status, _, raw := strict.graphCall("POST", "/v1.0/subscriptions", token, fill(strict, map[string]any{"notificationUrl": h.url("/n")}))
	if status != 400 || graphErrorCode(t, raw) != "InvalidRequest" || !strings.Contains(string(raw), "scheme='http' is not supported") {
		t.Errorf("http notificationUrl: %d %s", status, raw)
	}
	status, _, raw = strict.graphCall("POST", "/v1.0/subscriptions", token, fill(strict, map[string]any{
		"notificationUrl": "https://127.0.0.1:1/n", "lifecycleNotificationUrl": h.url("/l"),
	}))
	if status != 400 || !strings.Contains(string(raw), "LifecycleNotificationUrl scheme='http'") {
		t.Errorf("http lifecycleNotificationUrl: %d %s", status, raw)
	}
	// https passes the check and goes on to the handshake (nobody listens).
	status, _, raw = strict.graphCall("POST", "/v1.0/subscriptions", token, fill(strict, map[string]any{"notificationUrl": "https://127.0.0.1:1/n"}))
	if status != 400 || graphErrorCode(t, raw) != "ValidationError" {
		t.Errorf("https notificationUrl: %d %s", status, raw)
	}

	loose := start(t) // loopback allowed, as make run and the tests have it
	token = loose.graphToken(providersim.DemoContosoUser)
	subscribe(loose, token, map[string]any{"notificationUrl": h.url("/n")}, 201)
	status, _, raw = loose.graphCall("POST", "/v1.0/subscriptions", token, fill(loose, map[string]any{"notificationUrl": "http://hooks.example.com/n"}))
	if status != 400 || !strings.Contains(string(raw), "scheme='http' is not supported") {
		t.Errorf("http to a non-loopback host: %d %s", status, raw)
	}
}

func TestGraphStatusCodes(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	for _, id := range []string{"nope", "not-base64-at-all!!-but-long-enough-to-pass-a-length-check"} {
		status, _, raw := e.graphCall("GET", "/v1.0/me/messages/"+id, token, nil)
		if status != 400 || graphErrorCode(t, raw) != "ErrorInvalidIdMalformed" {
			t.Errorf("malformed id %q: %d %s", id, status, raw)
		}
		if status, _, _ := e.graphCall("POST", "/v1.0/me/messages/"+id+"/createReply", token, nil); status != 400 {
			t.Errorf("createReply on malformed id %q: %d", id, status)
		}
	}
	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	id := draft["id"].(string)
	e.graphCall("DELETE", "/v1.0/me/messages/"+id, token, nil)
	e.graphCall("DELETE", "/v1.0/me/messages/"+id, token, nil) // gone for good
	if status, _, raw := e.graphCall("GET", "/v1.0/me/messages/"+id, token, nil); status != 404 || graphErrorCode(t, raw) != "ErrorItemNotFound" {
		t.Errorf("well-formed unknown id: %d %s", status, raw)
	}

	// 429: innerError is exactly Graph's {code, date, request-id, status}.
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.getUser", Status: 429, RetryAfter: "1.5", Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, hdr, raw := e.graphCall("GET", "/v1.0/me", token, nil)
	var body struct {
		Error struct {
			Code       string         `json:"code"`
			InnerError map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || status != 429 {
		t.Fatalf("429: %d %s", status, raw)
	}
	inner := body.Error.InnerError
	keys := []string{}
	for k := range inner {
		keys = append(keys, k)
	}
	if len(inner) != 4 || inner["code"] != "429" || inner["status"] != "429" || inner["request-id"] != hdr.Get("request-id") || inner["date"] == "" {
		t.Errorf("429 innerError %v (keys %v)", inner, keys)
	}
	if !strings.HasPrefix(string(raw), `{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"code":"429","date":"`) {
		t.Errorf("429 body %s", raw)
	}
	// Other errors keep date, request-id and client-request-id.
	_, _, raw = e.graphCall("GET", "/v1.0/me/messages/nope", token, nil, "client-request-id", "c-1")
	if !strings.Contains(string(raw), `"client-request-id":"c-1"`) || strings.Contains(string(raw), `"status"`) {
		t.Errorf("400 innerError %s", raw)
	}
}

// Drafts, createReply's among them, have sentDateTime and receivedDateTime.
func TestDraftsCarrySentAndReceivedTimes(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)
	ext, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: ext[0].InternetMessageID, Body: "Tell me more."}); err != nil {
		t.Fatal(err)
	}
	inbox := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages", token, nil, 200)["value"].([]any)
	orig := inbox[0].(map[string]any)
	for _, op := range []string{"createReply", "createReplyAll"} {
		d := e.graphJSON("POST", "/v1.0/me/messages/"+orig["id"].(string)+"/"+op, token, map[string]any{"comment": "Happy to."}, 201)
		if d["isDraft"] != true || d["sentDateTime"] == nil || d["receivedDateTime"] == nil || d["sentDateTime"] != d["createdDateTime"] || d["receivedDateTime"] != d["createdDateTime"] {
			t.Errorf("%s draft: sent %v received %v created %v", op, d["sentDateTime"], d["receivedDateTime"], d["createdDateTime"])
		}
	}
	d := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	if d["sentDateTime"] == nil || d["receivedDateTime"] == nil {
		t.Errorf("new draft: sent %v received %v", d["sentDateTime"], d["receivedDateTime"])
	}
}

// Graph reads Edm.Boolean literals in strings, as Microsoft's own sendMail
// sample writes saveToSentItems.
func TestQuotedODataBooleans(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	sentItems := func() int {
		return len(e.graphJSON("GET", "/v1.0/me/mailFolders/sentitems/messages", token, nil, 200)["value"].([]any))
	}
	for i, v := range []any{"false", "False", false} {
		e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate), "saveToSentItems": v}, 202)
		if n := sentItems(); n != 0 {
			t.Errorf("saveToSentItems %#v (#%d): %d in Sent Items", v, i, n)
		}
	}
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate), "saveToSentItems": "true"}, 202)
	if n := sentItems(); n != 1 {
		t.Errorf(`saveToSentItems "true": %d in Sent Items`, n)
	}
	status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate), "saveToSentItems": "nope"})
	if status != 400 || graphErrorCode(t, raw) != "BadRequest" {
		t.Errorf("saveToSentItems \"nope\": %d %s", status, raw)
	}
	d := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	if got := e.graphJSON("PATCH", "/v1.0/me/messages/"+d["id"].(string), token, map[string]any{"isRead": "false"}, 200); got["isRead"] != false {
		t.Errorf(`isRead "false": %v`, got["isRead"])
	}
}

// wids appears only when the app registration asks for directory roles.
func TestDirectoryRolesNeedGroupMembershipClaims(t *testing.T) {
	for _, tc := range []struct {
		claims string
		want   bool
	}{{"", false}, {simclient.GroupClaimsSecurityGroup, false}, {simclient.GroupClaimsDirectoryRole, true}, {simclient.GroupClaimsAll, true}} {
		t.Run(fmt.Sprintf("%q", tc.claims), func(t *testing.T) {
			app := providersim.DefaultApp()
			app.GroupMembershipClaims = tc.claims
			e := start(t, func(o *providersim.Options) { o.Apps = []simclient.App{app} })
			claims := idClaims(t, e.tokens(providersim.DemoContosoAdmin, signInScopes).IDToken)
			wids, ok := claims["wids"]
			if ok != tc.want || (tc.want && !strings.Contains(fmt.Sprint(wids), "62e90394-69f5-4237-9190-012177145e10")) {
				t.Errorf("groupMembershipClaims %q: wids %v", tc.claims, wids)
			}
		})
	}
	e := start(t)
	bad := providersim.DefaultApp()
	bad.ClientID, bad.GroupMembershipClaims = "other-app", "Roles"
	if _, err := e.c.CreateApp(e.ctx, bad); err == nil {
		t.Error("an unknown groupMembershipClaims was accepted")
	}
}
