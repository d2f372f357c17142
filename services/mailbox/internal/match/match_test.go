package match

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// sentLog is a fake Lookup over a list of sent messages.
type sentLog struct {
	sent []Sent
	err  error
}

func (l sentLog) SentInConversation(_ context.Context, conv string) ([]Sent, error) {
	var out []Sent
	for _, s := range l.sent {
		if s.ConversationID == conv {
			out = append(out, s)
		}
	}
	return out, l.err
}

func (l sentLog) SentWithInternetIDs(_ context.Context, ids []string) ([]Sent, error) {
	var out []Sent
	for _, s := range l.sent {
		if slices.Contains(ids, s.InternetMessageID) {
			out = append(out, s)
		}
	}
	return out, l.err
}

func (l sentLog) LastSentTo(_ context.Context, addr string) (Sent, bool, error) {
	var best Sent
	found := false
	for _, s := range l.sent {
		if slices.Contains(s.Recipients, addr) && (!found || s.SentAt.After(best.SentAt)) {
			best, found = s, true
		}
	}
	return best, found, l.err
}

func TestMatch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	first := Sent{ID: "m1", InternetMessageID: "<m1@contoso.example>", ConversationID: "conv-1", Recipients: []string{"jo@example.org"}, SentAt: t0}
	followUp := Sent{ID: "m2", InternetMessageID: "<m2@contoso.example>", ConversationID: "conv-1", Recipients: []string{"jo@example.org"}, SentAt: t0.Add(time.Hour)}
	toSam := Sent{ID: "m3", InternetMessageID: "<m3@contoso.example>", ConversationID: "conv-2", Recipients: []string{"sam@example.net"}, SentAt: t0}
	log := sentLog{sent: []Sent{first, followUp, toSam}}
	own := OwnAddresses("recruiter@contoso.example", []string{"SMTP:recruiter@contoso.example", "smtp:Alias@Contoso.Example", "X500:/o=Exchange/cn=recruiter"})

	tests := []struct {
		name   string
		in     Inbound
		method Method
		id     string
	}{
		{"same conversation, answering the first", Inbound{ConversationID: "conv-1", InReplyTo: "<m1@contoso.example>", From: "jo@example.org"}, ByConversation, "m1"},
		{"same conversation, no headers: the latest to the sender", Inbound{ConversationID: "conv-1", From: "Jo@Example.org"}, ByConversation, "m2"},
		{"same conversation, References only: the latest named", Inbound{ConversationID: "conv-1", References: "<m1@contoso.example> <m2@contoso.example>", From: "jo@example.org"}, ByConversation, "m2"},
		{"another conversation id, In-Reply-To", Inbound{ConversationID: "conv-x", InReplyTo: "<m3@contoso.example>", From: "sam@example.net"}, ByReference, "m3"},
		{"References with folding and noise", Inbound{ConversationID: "conv-x", References: "<zz@elsewhere>\r\n <m1@contoso.example>", From: "jo@example.org"}, ByReference, "m1"},
		{"a fresh message from someone Tandem wrote to", Inbound{ConversationID: "conv-new", From: "\"Sam\" <SAM@example.NET>", ByAddress: true}, BySender, "m3"},
		{"the sender fallback only when allowed (bounces)", Inbound{ConversationID: "conv-new", From: "sam@example.net"}, NoMatch, ""},
		{"an unknown sender in an unrelated thread", Inbound{ConversationID: "conv-new", InReplyTo: "<other@elsewhere>", From: "stranger@example.com", ByAddress: true}, NoMatch, ""},
		{"the mailbox's own mail is no answer", Inbound{ConversationID: "conv-1", From: "recruiter@contoso.example", ByAddress: true}, NoMatch, ""},
		{"nor mail from its alias", Inbound{ConversationID: "conv-1", From: "ALIAS@contoso.example", ByAddress: true}, NoMatch, ""},
		{"no sender at all", Inbound{ConversationID: "conv-1"}, NoMatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Match(t.Context(), log, own, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || got.Sent.ID != tt.id {
				t.Fatalf("Match = %q %q, want %q %q", got.Method, got.Sent.ID, tt.method, tt.id)
			}
			if got.Matched() != (tt.method != NoMatch) {
				t.Errorf("Matched() = %v", got.Matched())
			}
		})
	}
}

func TestMatchReturnsLookupErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("db down")
	_, err := Match(t.Context(), sentLog{err: boom}, Addresses{}, Inbound{ConversationID: "c", From: "jo@example.org"})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the lookup's", err)
	}
}

func TestAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"jo@example.org":            "jo@example.org",
		" Jo@Example.ORG ":          "jo@example.org",
		"SMTP:Jo@Example.org":       "jo@example.org",
		"smtp:jo@example.org":       "jo@example.org",
		`"Jo Doe" <JO@example.org>`: "jo@example.org",
		"Jo Doe <jo@example.org>":   "jo@example.org",
		"not an address":            "",
		"@example.org":              "",
		"jo@":                       "",
		"":                          "",
	} {
		if got := Address(in); got != want {
			t.Errorf("Address(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOwnAddressesAreMailAndSMTPProxies(t *testing.T) {
	t.Parallel()
	own := OwnAddresses("Adele.Vance@contoso.example", []string{"SMTP:adele.vance@contoso.example", "smtp:av@contoso.example", "SIP:adele@contoso.example", "X500:/o=x"})
	for _, a := range []string{"adele.vance@contoso.example", "AV@contoso.example", "smtp:av@contoso.example"} {
		if !own.Has(a) {
			t.Errorf("%s should be own", a)
		}
	}
	// The UPN (adele@contoso.onmicrosoft.com) and the SIP address are not
	// mail addresses of the mailbox.
	for _, a := range []string{"adele@contoso.onmicrosoft.com", "adele@contoso.example"} {
		if own.Has(a) {
			t.Errorf("%s should not be own", a)
		}
	}
	if got := len(own); got != 2 {
		t.Errorf("own = %v, want 2 addresses", own)
	}
}

func TestMessageIDs(t *testing.T) {
	t.Parallel()
	got := messageIDs("<a@x> <b@y>\r\n\t<a@x> junk <> <c@z")
	if strings.Join(got, " ") != "<a@x> <b@y>" {
		t.Fatalf("messageIDs = %q", got)
	}
}
