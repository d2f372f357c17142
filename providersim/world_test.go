package providersim_test

import (
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestOutsideWorld(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	imm := []string{"Prefer", `IdType="ImmutableId"`}
	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate, "sam.taylor@outlook.example"), 201, imm...)
	e.graphJSON("POST", "/v1.0/me/messages/"+draft["id"].(string)+"/send", token, nil, 202, imm...)
	origID := draft["internetMessageId"].(string)
	conv := draft["conversationId"].(string)

	got, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil || len(got) != 1 || got[0].InternetMessageID != origID || got[0].Mailbox != candidate {
		t.Fatalf("candidate's inbox %+v %v", got, err)
	}

	// The candidate replies.
	reply, err := e.c.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: origID, Body: "Yes, I'm interested."})
	if err != nil {
		t.Fatal(err)
	}
	if reply.ConversationID != conv || reply.HeaderValue("In-Reply-To") != origID || reply.HeaderValue("References") != origID ||
		reply.Subject != "RE: Senior Go engineer at Contoso" || reply.From.Address != candidate || reply.From.Name != "jordan.lee" {
		t.Errorf("reply %+v", reply)
	}
	inbox, err := e.c.Messages(e.ctx, providersim.DemoContosoUser, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].InternetMessageID != reply.InternetMessageID || inbox[0].ConversationID != conv {
		t.Fatalf("recruiter's inbox %+v", inbox)
	}
	if _, err := e.c.Reply(e.ctx, simclient.Reply{From: "stranger@x.example", InternetMessageID: origID, Body: "?"}); err == nil {
		t.Error("an address replied to a message it never received")
	}

	// An out-of-office answer from the other recipient.
	oof, err := e.c.AutoReply(e.ctx, simclient.AutoReply{From: "sam.taylor@outlook.example", InternetMessageID: origID})
	if err != nil {
		t.Fatal(err)
	}
	if oof.HeaderValue("Auto-Submitted") != "auto-replied" || oof.HeaderValue("X-Auto-Response-Suppress") == "" ||
		!strings.HasPrefix(oof.Subject, "Automatic reply: ") || oof.ConversationID != conv {
		t.Errorf("auto-reply %+v", oof)
	}

	// A bounce for the candidate: the NDR lands in the sender's Inbox and
	// the candidate's copy is gone.
	ndr, err := e.c.Bounce(e.ctx, simclient.Bounce{InternetMessageID: origID, Recipient: candidate})
	if err != nil {
		t.Fatal(err)
	}
	if ndr.Mailbox != providersim.DemoContosoUser || ndr.Folder != "inbox" || ndr.From.Address != "postmaster@contoso.example" ||
		!strings.HasPrefix(ndr.Subject, "Undeliverable: ") || ndr.HeaderValue("References") != origID ||
		!strings.Contains(ndr.Body, candidate) || !strings.Contains(ndr.Body, "550 5.1.1") ||
		!strings.HasPrefix(ndr.HeaderValue("Content-Type"), "multipart/report") {
		t.Errorf("NDR %+v", ndr)
	}
	if got, err := e.c.Messages(e.ctx, candidate, ""); err != nil || len(got) != 0 {
		t.Errorf("bounced message still in the candidate's inbox: %d (err %v)", len(got), err)
	}
	inbox, err = e.c.Messages(e.ctx, providersim.DemoContosoUser, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 3 {
		t.Errorf("recruiter's inbox has %d messages, want reply, auto-reply and NDR", len(inbox))
	}
	// All three arrivals are visible through Graph with their headers.
	list := e.graphJSON("GET", "/v1.0/me/mailFolders/inbox/messages?$select=subject,internetMessageHeaders,from", token, nil, 200)["value"].([]any)
	if len(list) != 3 {
		t.Fatalf("Graph inbox %v", list)
	}

	// An undeliverable address bounces at once.
	if err := e.c.SetUndeliverable(e.ctx, "gone@nowhere.example", ""); err != nil {
		t.Fatal(err)
	}
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail("gone@nowhere.example")}, 202)
	if got, err := e.c.Messages(e.ctx, "gone@nowhere.example", ""); err != nil || len(got) != 0 {
		t.Errorf("undeliverable address received %d (err %v)", len(got), err)
	}
	inbox, err = e.c.Messages(e.ctx, providersim.DemoContosoUser, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 4 || !strings.HasPrefix(inbox[3].Subject, "Undeliverable: ") {
		t.Errorf("no NDR for the undeliverable address: %+v", inbox)
	}
	if err := e.c.ClearUndeliverable(e.ctx, "gone@nowhere.example"); err != nil {
		t.Fatal(err)
	}
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail("gone@nowhere.example")}, 202)
	if got, err := e.c.Messages(e.ctx, "gone@nowhere.example", ""); err != nil || len(got) != 1 {
		t.Errorf("deliverable again: %d (err %v)", len(got), err)
	}

	// A message out of the blue, answering a known thread by In-Reply-To.
	in, err := e.c.Inbound(e.ctx, simclient.InboundMessage{
		From: simclient.Address{Name: "Jordan Lee", Address: candidate}, To: []simclient.Address{{Address: providersim.DemoContosoUser}},
		Subject: "One more thing", Body: "Also...", Headers: []simclient.Header{{Name: "In-Reply-To", Value: origID}},
	})
	if err != nil || in.ConversationID != conv {
		t.Errorf("inbound %+v %v", in, err)
	}
	if _, err := e.c.Messages(e.ctx, providersim.DemoContosoUser, "nope"); err == nil {
		t.Error("unknown folder listed")
	}
}
