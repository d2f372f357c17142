package providersim_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// A user's UPN, primary address and proxy addresses differ, and the ID token
// may have no email claim: every place that shows an address shows mail.
func TestAddressesAreNotUserPrincipalNames(t *testing.T) {
	e := start(t)
	demo := e.user(providersim.DemoContosoAlias)
	if demo.Mail != providersim.DemoContosoAliasMail || !demo.OmitEmailClaim || len(demo.ProxyAddresses) < 2 {
		t.Fatalf("demo user %+v, want mail %s, proxies and no email claim", demo, providersim.DemoContosoAliasMail)
	}
	u, err := e.c.CreateUser(e.ctx, providersim.DemoContosoDomain, simclient.User{
		GivenName: "Pat", Surname: "Kim", UserPrincipalName: "pkim@contoso.example",
		Mail: "Pat.Kim@Contoso.example", ProxyAddresses: []string{"smtp:pk@contoso.example", "SMTP:pat.kim@contoso.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Mail != "pat.kim@contoso.example" || strings.Join(u.ProxyAddresses, ",") != "pat.kim@contoso.example,pk@contoso.example" {
		t.Errorf("addresses %q %q", u.Mail, u.ProxyAddresses)
	}
	if _, err := e.c.CreateUser(e.ctx, providersim.DemoContosoDomain, simclient.User{UserPrincipalName: "other@contoso.example", Mail: "pk@contoso.example"}); err == nil {
		t.Error("a second user took an address that is taken")
	}

	// ID token: preferred_username is the UPN, email is mail, or missing.
	tr := e.tokens("pkim@contoso.example", signInScopes)
	claims := idClaims(t, tr.IDToken)
	if claims["preferred_username"] != "pkim@contoso.example" || claims["email"] != "pat.kim@contoso.example" {
		t.Errorf("claims %v", claims)
	}
	if claims := idClaims(t, e.tokens(providersim.DemoContosoAlias, signInScopes).IDToken); claims["email"] != nil || claims["preferred_username"] != providersim.DemoContosoAlias {
		t.Errorf("demo user's claims %v, want no email", claims)
	}
	me := e.graphJSON("GET", "/v1.0/me", tr.AccessToken, nil, 200)
	if me["mail"] != "pat.kim@contoso.example" || me["userPrincipalName"] != "pkim@contoso.example" {
		t.Errorf("/me %v", me)
	}
	info := e.graphJSON("GET", "/oidc/userinfo", tr.AccessToken, nil, 200)
	if info["email"] != "pat.kim@contoso.example" {
		t.Errorf("userinfo %v", info)
	}
	demoToken := e.graphToken(providersim.DemoContosoAlias)
	if info := e.graphJSON("GET", "/oidc/userinfo", demoToken, nil, 200); info["email"] != nil {
		t.Errorf("demo user's userinfo %v, want no email", info)
	}
	if me := e.graphJSON("GET", "/v1.0/me", demoToken, nil, 200); me["mail"] != providersim.DemoContosoAliasMail {
		t.Errorf("demo user's /me %v", me)
	}

	// What the user sends is from mail; what is sent to any proxy address
	// arrives; the UPN alone is not an address.
	token := e.graphToken("pkim@contoso.example")
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)
	got, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil || len(got) != 1 {
		t.Fatalf("candidate's inbox %v %v", got, err)
	}
	if got[0].From.Address != "pat.kim@contoso.example" || !strings.Contains(got[0].HeaderValue("From"), "<pat.kim@contoso.example>") {
		t.Errorf("from %+v, header %q", got[0].From, got[0].HeaderValue("From"))
	}
	sent := e.graphJSON("GET", "/v1.0/me/mailFolders/sentitems/messages", token, nil, 200)["value"].([]any)
	if len(sent) != 1 || !strings.Contains(jsonString(t, sent[0]), `"address":"pat.kim@contoso.example"`) || strings.Contains(jsonString(t, sent[0]), "pkim@") {
		t.Errorf("sent item %v", sent)
	}
	reply, err := e.c.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: got[0].InternetMessageID, Body: "Sure."})
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.To) != 1 || reply.To[0].Address != "pat.kim@contoso.example" {
		t.Errorf("reply to %+v", reply.To)
	}
	for _, to := range []string{"pk@contoso.example", "pkim@contoso.example"} {
		if _, err := e.c.Inbound(e.ctx, simclient.InboundMessage{From: simclient.Address{Address: candidate}, To: []simclient.Address{{Address: to}}, Subject: "to " + to}); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := e.c.Messages(e.ctx, "pat.kim@contoso.example", "inbox")
	if err != nil {
		t.Fatal(err)
	}
	subjects := []string{}
	for _, m := range inbox {
		subjects = append(subjects, m.Subject)
	}
	if strings.Join(subjects, ",") != "to pk@contoso.example,RE: Senior Go engineer at Contoso" && strings.Join(subjects, ",") != "RE: Senior Go engineer at Contoso,to pk@contoso.example" {
		t.Errorf("inbox %v: want the reply and the proxy address's message, not the UPN's", subjects)
	}

	// Changing the addresses takes effect at once.
	newMail := "patricia.kim@contoso.example"
	if _, err := e.c.UpdateUser(e.ctx, "pkim@contoso.example", simclient.UserUpdate{Mail: &newMail}); err != nil {
		t.Fatal(err)
	}
	if me := e.graphJSON("GET", "/v1.0/me", token, nil, 200); me["mail"] != newMail {
		t.Errorf("/me after the change %v", me)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
