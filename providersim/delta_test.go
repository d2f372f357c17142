package providersim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func inbound(t *testing.T, e *env, to, subject string) simclient.MailMessage {
	t.Helper()
	m, err := e.c.Inbound(e.ctx, simclient.InboundMessage{
		From: simclient.Address{Name: "Jordan Lee", Address: candidate}, To: []simclient.Address{{Address: to}},
		Subject: subject, Body: "Hello",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// deltaRound follows nextLinks from start to the deltaLink and returns every
// item and the deltaLink.
func deltaRound(t *testing.T, e *env, start, token string, pageSize string) ([]map[string]any, string, int) {
	t.Helper()
	var items []map[string]any
	link, pages := start, 0
	for {
		var h []string
		if pageSize != "" {
			h = []string{"Prefer", "odata.maxpagesize=" + pageSize}
		}
		page := e.graphJSON("GET", link, token, nil, 200, h...)
		pages++
		for _, v := range page["value"].([]any) {
			items = append(items, v.(map[string]any))
		}
		if next, ok := page["@odata.nextLink"].(string); ok {
			if !strings.Contains(next, "$skiptoken=") || page["@odata.deltaLink"] != nil {
				t.Fatalf("nextLink %q", next)
			}
			link = next
			continue
		}
		dl, ok := page["@odata.deltaLink"].(string)
		if !ok || !strings.Contains(dl, "$deltatoken=") {
			t.Fatalf("page without nextLink or deltaLink: %v", page)
		}
		return items, dl, pages
	}
}

func TestDeltaQuery(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	for _, s := range []string{"one", "two", "three", "four", "five"} {
		inbound(t, e, providersim.DemoContosoUser, s)
	}
	items, deltaLink, pages := deltaRound(t, e, "/v1.0/me/mailFolders('inbox')/messages/delta?$select=subject,isRead", token, "2")
	if len(items) != 5 || pages != 3 {
		t.Fatalf("first round: %d items in %d pages", len(items), pages)
	}
	for _, it := range items {
		if it["@odata.type"] != "#microsoft.graph.message" || it["subject"] == nil || it["id"] == nil || it["body"] != nil || it["from"] != nil {
			t.Errorf("item %v", it)
		}
	}
	items, deltaLink, _ = deltaRound(t, e, deltaLink, token, "")
	if len(items) != 0 {
		t.Errorf("nothing changed, got %v", items)
	}

	// New arrivals, a read-state change and a deletion.
	inbound(t, e, providersim.DemoContosoUser, "six")
	list := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages?"+url.Values{"$filter": {"subject eq 'two'"}}.Encode(), token, nil, 200)["value"].([]any)
	two := list[0].(map[string]any)["id"].(string)
	list = e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages?"+url.Values{"$filter": {"subject eq 'three'"}}.Encode(), token, nil, 200)["value"].([]any)
	three := list[0].(map[string]any)["id"].(string)
	e.graphJSON("PATCH", "/v1.0/me/messages/"+two, token, map[string]any{"isRead": true}, 200)
	if status, _, _ := e.graphCall("DELETE", "/v1.0/me/messages/"+three, token, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	items, deltaLink, _ = deltaRound(t, e, deltaLink, token, "")
	bySubject := map[string]map[string]any{}
	var removed []string
	for _, it := range items {
		if r, ok := it["@removed"].(map[string]any); ok {
			if r["reason"] != "deleted" {
				t.Errorf("removed %v", it)
			}
			removed = append(removed, it["id"].(string))
			continue
		}
		bySubject[it["subject"].(string)] = it
	}
	if len(items) != 3 || bySubject["six"] == nil || bySubject["two"]["isRead"] != true || len(removed) != 1 || removed[0] != three {
		t.Errorf("second round %v", items)
	}

	// Sent Items has its own delta.
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)
	items, _, _ = deltaRound(t, e, "/v1.0/me/mailFolders/sentitems/messages/delta", token, "")
	if len(items) != 1 || items[0]["body"] == nil {
		t.Errorf("sent items delta %v", items)
	}
	items, _, _ = deltaRound(t, e, deltaLink, token, "")
	if len(items) != 0 {
		t.Errorf("inbox changed by a send: %v", items)
	}
	status, _, _ := e.graphCall("GET", "/v1.0/me/messages/delta", token, nil)
	if status != 400 {
		t.Errorf("delta outside a folder: %d", status)
	}
}

func TestDeltaTokensExpireOnDemand(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	inbound(t, e, providersim.DemoContosoUser, "hello")
	_, deltaLink, _ := deltaRound(t, e, "/v1.0/me/mailFolders/inbox/messages/delta", token, "")

	n, err := e.c.ExpireDelta(e.ctx, simclient.DeltaExpiry{Mailbox: providersim.DemoContosoUser, Folder: "inbox"})
	if err != nil || n == 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	status, _, raw := e.graphCall("GET", deltaLink, token, nil)
	if status != http.StatusBadRequest || graphErrorCode(t, raw) != "syncStateNotFound" {
		t.Errorf("expired token: %d %s", status, raw)
	}

	// A full resync works and gives a fresh token; this time it is gone.
	items, deltaLink, _ := deltaRound(t, e, "/v1.0/me/mailFolders/inbox/messages/delta", token, "")
	if len(items) != 1 {
		t.Fatalf("resync %v", items)
	}
	if _, err := e.c.ExpireDelta(e.ctx, simclient.DeltaExpiry{Mailbox: providersim.DemoContosoUser, Mode: simclient.DeltaGone}); err != nil {
		t.Fatal(err)
	}
	status, hdr, raw := e.graphCall("GET", deltaLink, token, nil)
	if status != http.StatusGone || !strings.HasSuffix(hdr.Get("Location"), "/messages/delta?$deltatoken=") {
		t.Fatalf("gone: %d %v %s", status, hdr, raw)
	}
	items, _, _ = deltaRound(t, e, hdr.Get("Location"), token, "")
	if len(items) != 1 {
		t.Errorf("resync from Location: %v", items)
	}

	_, deltaLink, _ = deltaRound(t, e, "/v1.0/me/mailFolders/inbox/messages/delta", token, "")
	if _, err := e.c.ExpireDelta(e.ctx, simclient.DeltaExpiry{Status: 404}); err != nil {
		t.Fatal(err)
	}
	status, _, raw = e.graphCall("GET", deltaLink, token, nil)
	if status != 404 || graphErrorCode(t, raw) != "syncStateNotFound" {
		t.Errorf("custom status: %d %s", status, raw)
	}
	status, _, raw = e.graphCall("GET", "/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=made-up", token, nil)
	if status != 400 || graphErrorCode(t, raw) != "syncStateNotFound" {
		t.Errorf("unknown token: %d %s", status, raw)
	}
	// A token is bound to its mailbox.
	other := e.graphToken(providersim.DemoContosoAdmin)
	_, deltaLink, _ = deltaRound(t, e, "/v1.0/me/mailFolders/inbox/messages/delta", token, "")
	if status, _, _ := e.graphCall("GET", deltaLink, other, nil); status != 400 {
		t.Errorf("another mailbox's token: %d", status)
	}
}
