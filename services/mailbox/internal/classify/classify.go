// Package classify tells what kind of message arrived in a mailbox's Inbox:
// a person's reply, an automatic reply (out of office and other
// auto-responses) or a bounce (a non-delivery report), and for a bounce which
// recipients failed and whether for good.
//
// It decides from what transport and Exchange put on a message (its headers,
// its MIME type, Outlook's message class, the report's own status lines),
// never from the subject: "Automatic reply:" and "Undeliverable:" are
// localised, and a person can type them.
package classify

import (
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"
)

// Kind is what an inbound message is.
type Kind string

// Kinds of inbound messages.
const (
	// Reply is a message a person wrote.
	Reply Kind = "reply"
	// AutoReply is an out-of-office answer or another auto-response.
	AutoReply Kind = "auto_reply"
	// Bounce is a non-delivery report.
	Bounce Kind = "bounce"
)

// Header is an internet message header.
type Header struct {
	Name  string
	Value string
}

// Message is what classification reads of an inbound message.
type Message struct {
	// From is the From address (SMTP).
	From string
	// Headers are the message's internet headers (Graph's
	// internetMessageHeaders).
	Headers []Header
	// MessageClass is Outlook's PR_MESSAGE_CLASS (MAPI String 0x001A) when
	// the reader asked Graph for it; empty otherwise.
	MessageClass string
	// Body is the body as text (a report's human-readable part).
	Body string
}

// header returns the first value of a header, case-insensitively, and
// whether it is there at all (Exchange's NDR marker has an empty value).
func (m Message) header(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return strings.TrimSpace(h.Value), true
		}
	}
	return "", false
}

// Result is a classification.
type Result struct {
	Kind Kind
	// Marker names what decided it ("header X-MS-Exchange-Message-Is-Ndr"),
	// for logs and tests.
	Marker string
	// Bounce is set when Kind is Bounce.
	Bounce *BounceReport
}

// BounceReport is what a non-delivery report says.
type BounceReport struct {
	// Recipients are the addresses that failed, lower case; empty when the
	// report does not name them (the caller falls back to the original
	// message's recipients).
	Recipients []string
	// Status is the enhanced status code ("5.1.1"), empty when none was found.
	Status string
	// Permanent is true for a 5.x.x failure of the recipient (the address
	// does not work), false for a temporary one (4.x.x, "delayed") or a
	// failure that is the sender's, not the recipient's.
	Permanent bool
	// SenderSide is true when the report blames the sending mailbox (over
	// its sending limit, 5.1.90), so the recipient is not at fault.
	SenderSide bool
	// OriginalMessageID is the internetMessageId the report is about, when
	// it says (X-Original-Message-ID, or the report's Original-Message-ID
	// line).
	OriginalMessageID string
}

// Classify decides what m is. A bounce is recognised before an automatic
// reply, since NDRs carry auto-reply markers too (Auto-Submitted).
func Classify(m Message) Result {
	if marker, ok := bounceMarker(m); ok {
		r := readReport(m)
		return Result{Kind: Bounce, Marker: marker, Bounce: &r}
	}
	if marker, ok := autoReplyMarker(m); ok {
		return Result{Kind: AutoReply, Marker: marker}
	}
	return Result{Kind: Reply}
}

// bounceMarker finds what makes m a non-delivery report.
func bounceMarker(m Message) (string, bool) {
	if _, ok := m.header("X-MS-Exchange-Message-Is-Ndr"); ok {
		return "header X-MS-Exchange-Message-Is-Ndr", true
	}
	class := strings.ToUpper(m.MessageClass)
	if strings.HasPrefix(class, "REPORT.") && strings.HasSuffix(class, ".NDR") {
		return "message class " + m.MessageClass, true
	}
	if ct, ok := m.header("Content-Type"); ok {
		if mt, params, err := mime.ParseMediaType(ct); err == nil && mt == "multipart/report" &&
			strings.EqualFold(params["report-type"], "delivery-status") {
			return "Content-Type multipart/report; report-type=delivery-status", true
		}
	}
	if _, ok := m.header("X-Failed-Recipients"); ok { // Exim and others
		return "header X-Failed-Recipients", true
	}
	// The sender alone proves little (a person can write from postmaster@);
	// with an auto-submitted mark or a DSN status line it is a report.
	local := strings.ToLower(localPart(m.From))
	if local == "mailer-daemon" || local == "postmaster" {
		if v, ok := m.header("Auto-Submitted"); ok && !strings.EqualFold(v, "no") {
			return "sender " + local + " with Auto-Submitted", true
		}
		if statusLine.MatchString(m.Body) {
			return "sender " + local + " with a delivery status", true
		}
	}
	return "", false
}

// autoReplyMarker finds what makes m an auto-response.
func autoReplyMarker(m Message) (string, bool) {
	// RFC 3834: anything but "no" is automatic.
	if v, ok := m.header("Auto-Submitted"); ok && v != "" && !strings.EqualFold(v, "no") {
		return "header Auto-Submitted: " + v, true
	}
	class := strings.ToUpper(m.MessageClass)
	switch {
	case strings.HasPrefix(class, "IPM.NOTE.RULES.OOFTEMPLATE"), strings.HasPrefix(class, "IPM.NOTE.RULES.REPLYTEMPLATE"):
		return "message class " + m.MessageClass, true
	case strings.HasPrefix(class, "REPORT."): // read and delivery receipts
		return "message class " + m.MessageClass, true
	}
	// Exchange stamps its own auto-responses so others do not answer them.
	if _, ok := m.header("X-Auto-Response-Suppress"); ok {
		return "header X-Auto-Response-Suppress", true
	}
	if v, ok := m.header("X-MS-Exchange-Generated-Message-Source"); ok && v != "" {
		return "header X-MS-Exchange-Generated-Message-Source", true
	}
	if _, ok := m.header("X-MS-Exchange-Inbox-Rules-Loop"); ok {
		return "header X-MS-Exchange-Inbox-Rules-Loop", true
	}
	if v, ok := m.header("Precedence"); ok {
		switch strings.ToLower(v) {
		case "auto_reply", "bulk", "junk":
			return "header Precedence: " + v, true
		}
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder"} {
		if _, ok := m.header(name); ok {
			return "header " + name, true
		}
	}
	if ct, ok := m.header("Content-Type"); ok {
		if mt, params, err := mime.ParseMediaType(ct); err == nil && mt == "multipart/report" &&
			strings.EqualFold(params["report-type"], "disposition-notification") {
			return "a read receipt", true
		}
	}
	return "", false
}

var (
	// statusLine is an enhanced status code (RFC 3463): class 2, 4 or 5.
	statusLine = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	// smtpReply is an SMTP reply with its enhanced code, as reports quote
	// the remote server ("550 5.1.1 ...").
	smtpReply = regexp.MustCompile(`\b[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b`)
	// dsnStatus is a delivery-status part's Status field.
	dsnStatus = regexp.MustCompile(`(?im)^\s*Status:\s*([245]\.\d{1,3}\.\d{1,3})`)
	// dsnAction is its Action field.
	dsnAction = regexp.MustCompile(`(?im)^\s*Action:\s*(\w+)`)
	// dsnRecipient is its Final-Recipient (or Original-Recipient) field.
	dsnRecipient = regexp.MustCompile(`(?im)^\s*(?:Final|Original)-Recipient:\s*rfc822;\s*<?([^\s<>;]+@[^\s<>;]+)>?`)
	// origID is the Original-Message-ID line some reports quote.
	origID = regexp.MustCompile(`(?im)^\s*(?:Original-Message-ID|Message-ID):\s*(<[^>\s]+>)`)
	// anAddress is an addr-spec as reports print it.
	anAddress = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)
)

// exchangeFailedTo introduces the failed recipients in Exchange Online's
// NDR, one address a line, up to the first blank line after them.
const exchangeFailedTo = "delivery has failed to these recipients or groups:"

// senderSideStatuses blame the sending mailbox, not the recipient.
var senderSideStatuses = []string{
	"5.1.90",             // the sender reached its daily recipient limit
	"5.2.121", "5.2.122", // the sender's hourly limits
	"5.7.708", "5.7.750", // the tenant is blocked from sending
}

// readReport reads who failed, and how, from a report's headers and text.
func readReport(m Message) BounceReport {
	var r BounceReport
	if v, ok := m.header("X-Original-Message-ID"); ok && v != "" {
		r.OriginalMessageID = v
	} else if mm := origID.FindStringSubmatch(m.Body); mm != nil {
		r.OriginalMessageID = mm[1]
	}
	add := func(a string) {
		a = strings.ToLower(strings.Trim(a, " \t<>;,."))
		if a != "" && !slices.Contains(r.Recipients, a) {
			r.Recipients = append(r.Recipients, a)
		}
	}
	if v, ok := m.header("X-Failed-Recipients"); ok {
		for _, a := range anAddress.FindAllString(v, -1) {
			add(a)
		}
	}
	for _, mm := range dsnRecipient.FindAllStringSubmatch(m.Body, -1) {
		add(mm[1])
	}
	if len(r.Recipients) == 0 {
		for _, a := range exchangeRecipients(m.Body) {
			add(a)
		}
	}
	if mm := dsnStatus.FindStringSubmatch(m.Body); mm != nil {
		r.Status = mm[1]
	} else if mm := smtpReply.FindStringSubmatch(m.Body); mm != nil {
		r.Status = mm[1]
	} else if mm := statusLine.FindStringSubmatch(m.Body); mm != nil {
		r.Status = mm[0]
	}
	action := ""
	if mm := dsnAction.FindStringSubmatch(m.Body); mm != nil {
		action = strings.ToLower(mm[1])
	}
	r.SenderSide = slices.Contains(senderSideStatuses, r.Status)
	switch {
	case r.SenderSide:
		r.Permanent = false
	case strings.HasPrefix(r.Status, "5."):
		r.Permanent = action != "delayed"
	case strings.HasPrefix(r.Status, "4."), action == "delayed":
		r.Permanent = false
	default:
		// No status at all: do not suppress an address on a guess.
		r.Permanent = action == "failed"
	}
	return r
}

// exchangeRecipients reads the address block of Exchange's NDR text.
func exchangeRecipients(body string) []string {
	low := strings.ToLower(body)
	i := strings.Index(low, exchangeFailedTo)
	if i < 0 {
		return nil
	}
	var out []string
	started := false
	for _, line := range strings.Split(body[i+len(exchangeFailedTo):], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if started {
				break
			}
			continue
		}
		found := anAddress.FindAllString(line, -1)
		if len(found) == 0 {
			break
		}
		started = true
		out = append(out, found...)
	}
	return out
}

// localPart is the part of an address before the @.
func localPart(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}
