package graph_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph/graphtest"
)

type fixture struct {
	t      *testing.T
	sim    *providersim.Sim
	ctl    *simclient.Client
	client *graph.Client
	tokens *graphtest.Tokens
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := graphtest.Start(t)
	tokens := graphtest.NewTokens()
	client, err := graph.New(graph.Options{BaseURL: sim.GraphURL(), Tokens: tokens, HTTP: providerhttp.New(providerhttp.Options{
		Provider: "graph", MaxAttempts: 3, MaxRetryAfter: 200 * time.Millisecond,
		Backoff: providerhttp.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
	})})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, sim: sim, ctl: sim.Client(), client: client, tokens: tokens}
}

// mailbox connects upn under a connection id of its own.
func (f *fixture) mailbox(upn string) graph.Mailbox {
	f.t.Helper()
	id := "conn-" + upn
	f.tokens.Set(id, graphtest.AccessToken(f.t, f.sim, upn))
	return graph.Mailbox{ConnectionID: id}
}

func (f *fixture) draft(mb graph.Mailbox, to string) graph.Message {
	f.t.Helper()
	d, err := f.client.CreateDraft(f.t.Context(), mb, graph.Draft{Subject: "Hello", HTML: "<p>Hi</p>",
		To: []graph.Recipient{{Address: to, Name: "Cand"}}, Headers: []graph.Header{{Name: "X-Tandem-Message-Key", Value: "m-1"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func TestMeReadsMailAndProxyAddressesNotTheUPN(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p, err := f.client.Me(t.Context(), f.mailbox(providersim.DemoContosoAlias))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mail != providersim.DemoContosoAliasMail || p.Addresses[0] != providersim.DemoContosoAliasMail ||
		!slices.Contains(p.Addresses, "pradeep@contoso.example") || p.UserPrincipalName != providersim.DemoContosoAlias {
		t.Errorf("profile %+v", p)
	}
}

func TestADraftKeepsItsIDsAndMarkerThroughSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	mb := f.mailbox(providersim.DemoContosoUser)
	d := f.draft(mb, "cand@example.com")
	if d.ID == "" || d.InternetMessageID == "" || d.ConversationID == "" || !d.IsDraft {
		t.Fatalf("draft %+v", d)
	}
	got, err := f.client.GetMessage(ctx, mb, d.ID)
	if err != nil || !got.IsDraft || got.HeaderValue("x-tandem-message-key") != "m-1" {
		t.Fatalf("draft read back %+v, %v", got, err)
	}
	if err := f.client.Send(ctx, mb, d.ID); err != nil {
		t.Fatal(err)
	}
	// Immutable ids: the sent message has the draft's id.
	got, err = f.client.GetMessage(ctx, mb, d.ID)
	if err != nil || got.IsDraft || got.InternetMessageID != d.InternetMessageID {
		t.Fatalf("sent message %+v, %v", got, err)
	}
	found, err := f.client.FindByInternetMessageID(ctx, mb, "sentitems", d.InternetMessageID)
	if err != nil || len(found) != 1 || found[0].ID != d.ID {
		t.Fatalf("Sent Items %+v, %v", found, err)
	}
	inbox, err := f.ctl.Messages(ctx, "cand@example.com", "inbox")
	if err != nil || len(inbox) != 1 || inbox[0].InternetMessageID != d.InternetMessageID {
		t.Fatalf("recipient's inbox %+v, %v", inbox, err)
	}
	// Sending it again is refused: only a draft can be sent.
	err = f.client.Send(ctx, mb, d.ID)
	if ge, ok := graph.AsError(err); !ok || !ge.Permanent() {
		t.Errorf("second send: %v", err)
	}
}

func TestAReplyStaysInTheConversation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	mb := f.mailbox(providersim.DemoContosoUser)
	first := f.draft(mb, "cand@example.com")
	if err := f.client.Send(ctx, mb, first.ID); err != nil {
		t.Fatal(err)
	}
	r, err := f.client.CreateReply(ctx, mb, first.ID, graph.Draft{HTML: "<p>Following up</p>",
		Headers: []graph.Header{{Name: "X-Tandem-Message-Key", Value: "m-2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ConversationID != first.ConversationID || !strings.HasPrefix(r.Subject, "RE: ") || r.InternetMessageID == first.InternetMessageID {
		t.Fatalf("reply %+v", r)
	}
	if err := f.client.Send(ctx, mb, r.ID); err != nil {
		t.Fatal(err)
	}
	inbox, err := f.ctl.Messages(ctx, "cand@example.com", "inbox")
	if err != nil || len(inbox) != 2 {
		t.Fatalf("inbox %+v, %v", inbox, err)
	}
	for _, m := range inbox {
		if m.InternetMessageID == r.InternetMessageID && m.HeaderValue("In-Reply-To") != first.InternetMessageID {
			t.Errorf("reply's In-Reply-To %q", m.HeaderValue("In-Reply-To"))
		}
	}
}

func TestErrorsSayWhatToDoWithoutGraphsText(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	mb := f.mailbox(providersim.DemoContosoUser)

	_, err := f.client.CreateDraft(ctx, mb, graph.Draft{Subject: "x", HTML: "x", To: []graph.Recipient{{Address: "not an address"}}})
	ge, ok := graph.AsError(err)
	if !ok || !ge.Permanent() || ge.Code != "ErrorInvalidRecipients" || ge.OutcomeUnknown || strings.Contains(err.Error(), "not an address") {
		t.Errorf("bad recipient: %v", err)
	}

	d := f.draft(mb, "cand@example.com")
	if _, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.sendDraft", Status: 429, RetryAfter: "1.5", Count: 5}); err != nil {
		t.Fatal(err)
	}
	err = f.client.Send(ctx, mb, d.ID)
	ge, ok = graph.AsError(err)
	if !ok || !ge.Throttled() || ge.RetryAfter != 1500*time.Millisecond || ge.OutcomeUnknown {
		t.Errorf("429: %v", err)
	}
	if err := f.ctl.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	// The 429 pauses that mailbox only: the next calls are another's.
	mb = f.mailbox(providersim.DemoContosoAdmin)
	d = f.draft(mb, "cand@example.com")

	if _, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.sendDraft", Status: 502, Count: 1}); err != nil {
		t.Fatal(err)
	}
	err = f.client.Send(ctx, mb, d.ID)
	ge, ok = graph.AsError(err)
	if !ok || !ge.Temporary() || !ge.OutcomeUnknown {
		t.Errorf("502 after a send: %v", err)
	}
	// A GET is retried through a 502 and never has an unknown outcome.
	if _, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.getMessage", Status: 502, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.GetMessage(ctx, mb, d.ID); err != nil {
		t.Errorf("GET after one 502: %v", err)
	}

	_, err = f.client.GetMessage(ctx, mb, "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0Anope")
	if !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("missing message: %v", err)
	}

	f.tokens.Remove(mb.ConnectionID)
	if _, err := f.client.GetMessage(ctx, mb, d.ID); !errors.Is(err, graph.ErrReconnectRequired) || !errors.Is(err, graph.ErrNoToken) {
		t.Errorf("no token: %v", err)
	}
}

// With the simulator's Sent Items delay, a sent draft reads as a draft
// until Graph files it, and a second send in that time goes twice: what
// the send protocol must never do.
func TestASentDraftReadsAsADraftUntilGraphFilesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.ctl.SetGraphLimits(ctx, simclient.GraphLimits{SentItemsDelayMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	mb := f.mailbox(providersim.DemoContosoUser)
	d := f.draft(mb, "cand@example.com")
	if err := f.client.Send(ctx, mb, d.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.GetMessage(ctx, mb, d.ID)
	if err != nil || !got.IsDraft {
		t.Fatalf("right after the send: %+v, %v", got, err)
	}
	if err := f.client.Send(ctx, mb, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ctl.AdvanceClock(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err = f.client.GetMessage(ctx, mb, d.ID)
	if err != nil || got.IsDraft {
		t.Fatalf("after the delay: %+v, %v", got, err)
	}
	inbox, err := f.ctl.Messages(ctx, "cand@example.com", "inbox")
	if err != nil || len(inbox) != 2 {
		t.Errorf("two sends in the delay: the recipient has %d copies, %v", len(inbox), err)
	}
	if n, err := f.ctl.Counter(ctx, "graph.sentAgain"); err != nil || n != 1 {
		t.Errorf("graph.sentAgain = %d, %v", n, err)
	}
}
