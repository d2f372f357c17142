// Package match finds which message Tandem sent an inbound message answers:
// by Graph's conversation first, then by the RFC 5322 thread headers
// (In-Reply-To, References) against the internetMessageIds Tandem kept, then
// by the sender being someone Tandem wrote to from this mailbox. A message
// from an unknown sender in an unrelated thread answers nothing.
package match

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Sent is a message Tandem sent from a mailbox, as far as matching needs it.
type Sent struct {
	// ID is Tandem's message id; IdempotencyKey the submitter's key.
	ID                string
	IdempotencyKey    string
	InternetMessageID string
	ConversationID    string
	// Recipients are the addresses it went to, normalised (Address).
	Recipients []string
	SentAt     time.Time
}

// Lookup is what matching reads of the sent messages of one mailbox.
type Lookup interface {
	// SentInConversation lists the messages sent in a Graph conversation.
	SentInConversation(ctx context.Context, conversationID string) ([]Sent, error)
	// SentWithInternetIDs lists the messages whose internetMessageId is one
	// of ids.
	SentWithInternetIDs(ctx context.Context, ids []string) ([]Sent, error)
	// LastSentTo returns the latest message sent to addr (normalised), and
	// false when there is none.
	LastSentTo(ctx context.Context, addr string) (Sent, bool, error)
}

// Inbound is what matching reads of an inbound message.
type Inbound struct {
	ConversationID string
	// InReplyTo and References are the header values as received.
	InReplyTo  string
	References string
	// From is the sender's address.
	From string
	// ByAddress allows the sender fallback; a bounce comes from postmaster,
	// whose address says nothing about the thread.
	ByAddress bool
}

// Method is how a match was found.
type Method string

// Methods, in the order they are tried.
const (
	ByConversation Method = "conversation"
	ByReference    Method = "reference"
	BySender       Method = "sender"
	// NoMatch: the message answers nothing Tandem sent.
	NoMatch Method = ""
)

// Result is a match.
type Result struct {
	Method Method
	Sent   Sent
}

// Matched reports whether a sent message was found.
func (r Result) Matched() bool { return r.Method != NoMatch }

// Match finds the sent message in answers to. own are the mailbox's own
// addresses: a message from one of them (a copy of its own mail, a note to
// self) answers nothing.
func Match(ctx context.Context, look Lookup, own Addresses, in Inbound) (Result, error) {
	from := Address(in.From)
	if from == "" || own.Has(from) {
		return Result{}, nil
	}
	parent := messageIDs(in.InReplyTo)
	refs := messageIDs(in.References)
	if in.ConversationID != "" {
		list, err := look.SentInConversation(ctx, in.ConversationID)
		if err != nil {
			return Result{}, err
		}
		if len(list) > 0 {
			return Result{Method: ByConversation, Sent: pick(list, parent, refs, from)}, nil
		}
	}
	if ids := slices.Compact(append(slices.Clone(parent), refs...)); len(ids) > 0 {
		list, err := look.SentWithInternetIDs(ctx, ids)
		if err != nil {
			return Result{}, err
		}
		if len(list) > 0 {
			return Result{Method: ByReference, Sent: pick(list, parent, refs, from)}, nil
		}
	}
	if in.ByAddress {
		s, ok, err := look.LastSentTo(ctx, from)
		if err != nil {
			return Result{}, err
		}
		if ok {
			return Result{Method: BySender, Sent: s}, nil
		}
	}
	return Result{}, nil
}

// pick chooses among sent messages of one thread: the one In-Reply-To
// names, else the latest the References chain names, else the latest sent
// to the sender, else the latest.
func pick(list []Sent, parent, refs []string, from string) Sent {
	byID := func(id string) (Sent, bool) {
		for _, s := range list {
			if strings.EqualFold(s.InternetMessageID, id) {
				return s, true
			}
		}
		return Sent{}, false
	}
	for _, id := range parent {
		if s, ok := byID(id); ok {
			return s
		}
	}
	for i := len(refs) - 1; i >= 0; i-- { // References lists oldest first
		if s, ok := byID(refs[i]); ok {
			return s
		}
	}
	latest := func(keep func(Sent) bool) (Sent, bool) {
		var best Sent
		found := false
		for _, s := range list {
			if keep(s) && (!found || s.SentAt.After(best.SentAt)) {
				best, found = s, true
			}
		}
		return best, found
	}
	if s, ok := latest(func(s Sent) bool { return slices.Contains(s.Recipients, from) }); ok {
		return s
	}
	s, _ := latest(func(Sent) bool { return true })
	return s
}

// messageIDs reads the msg-ids of an In-Reply-To or References value.
func messageIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := v[i : i+j+1]; len(id) > 2 && !slices.Contains(out, id) {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	return out
}

// Address normalises an SMTP address for comparison: the addr-spec of a
// display form ("Jo <jo@x>"), without a proxyAddresses type prefix
// ("smtp:"), lower case. Local parts are case-sensitive by the letter of RFC
// 5321 but not in any mail system Tandem meets, and Exchange itself compares
// them without case. Anything that is not an address gives "".
func Address(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 5 && strings.EqualFold(s[:5], "smtp:") {
		s = s[5:]
	}
	if strings.ContainsAny(s, "<\" ") {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return ""
		}
		s = a.Address
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return ""
	}
	return strings.ToLower(s)
}

// Addresses is a set of a mailbox's own addresses.
type Addresses map[string]bool

// OwnAddresses is a mailbox's own addresses: its mail and its SMTP proxy
// addresses (SMTP: primary, smtp: aliases; X500: and others are not mail
// addresses). The user principal name is not one unless it is listed: it
// is a sign-in name that often receives nothing.
func OwnAddresses(mailAddr string, proxyAddresses []string) Addresses {
	out := Addresses{}
	if a := Address(mailAddr); a != "" {
		out[a] = true
	}
	for _, p := range proxyAddresses {
		typ, rest, ok := strings.Cut(p, ":")
		if ok && !strings.EqualFold(typ, "smtp") {
			continue
		}
		if !ok {
			rest = p
		}
		if a := Address(rest); a != "" {
			out[a] = true
		}
	}
	return out
}

// Has reports whether addr (any form) is one of the set.
func (a Addresses) Has(addr string) bool { return a[Address(addr)] }
