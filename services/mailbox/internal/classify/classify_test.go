package classify

import (
	"slices"
	"testing"
)

// exchangeNDR is the text of Exchange Online's non-delivery report, as the
// Graph simulator writes it.
const exchangeNDR = "Your message to jo@example.org couldn't be delivered.\r\n\r\n" +
	"Delivery has failed to these recipients or groups:\r\n\r\njo@example.org\r\n" +
	"The email address you entered couldn't be found.\r\n\r\n" +
	"Diagnostic information for administrators:\r\n\r\n" +
	"Generating server: SIMPR01MB0001.namprd01.prod.outlook.com\r\n\r\n" +
	"jo@example.org\r\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\r\n\r\n" +
	"Original message headers:\r\n\r\nMessage-ID: <orig@contoso.example>\r\nSubject: Hello\r\n"

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		msg    Message
		want   Kind
		marker string
	}{
		{
			name: "a person's reply",
			msg: Message{From: "jo@example.org", Body: "Thanks, let's talk.", Headers: []Header{
				{"In-Reply-To", "<a@contoso.example>"}, {"References", "<a@contoso.example>"},
				{"Content-Type", `text/plain; charset="utf-8"`},
			}},
			want: Reply,
		},
		{
			name: "the subject alone decides nothing",
			msg:  Message{From: "jo@example.org", Body: "Automatic reply: I typed this myself"},
			want: Reply,
		},
		{
			name: "Auto-Submitted: no is a person",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"Auto-Submitted", "no"}}},
			want: Reply,
		},
		{
			name: "the simulator's out of office",
			msg: Message{From: "jo@example.org", Headers: []Header{
				{"In-Reply-To", "<a@contoso.example>"}, {"Auto-Submitted", "auto-replied"},
				{"X-Auto-Response-Suppress", "All"}, {"X-MS-Exchange-Inbox-Rules-Loop", "jo@example.org"},
			}},
			want: AutoReply, marker: "header Auto-Submitted: auto-replied",
		},
		{
			name: "Outlook's out-of-office message class",
			msg:  Message{From: "jo@example.org", MessageClass: "IPM.Note.Rules.OofTemplate.Microsoft"},
			want: AutoReply, marker: "message class IPM.Note.Rules.OofTemplate.Microsoft",
		},
		{
			name: "an inbox rule's reply template",
			msg:  Message{From: "jo@example.org", MessageClass: "IPM.Note.Rules.ReplyTemplate.Microsoft"},
			want: AutoReply,
		},
		{
			name: "X-Auto-Response-Suppress alone",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"X-Auto-Response-Suppress", "DR, RN, NRN, OOF, AutoReply"}}},
			want: AutoReply, marker: "header X-Auto-Response-Suppress",
		},
		{
			name: "Exchange's generated-message source",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"}}},
			want: AutoReply,
		},
		{
			name: "Precedence: auto_reply",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"Precedence", "auto_reply"}}},
			want: AutoReply, marker: "header Precedence: auto_reply",
		},
		{
			name: "Precedence: bulk",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"precedence", "Bulk"}}},
			want: AutoReply,
		},
		{
			name: "Precedence: list is not an auto-response",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"Precedence", "list"}}},
			want: Reply,
		},
		{
			name: "a read receipt",
			msg:  Message{From: "jo@example.org", Headers: []Header{{"Content-Type", "multipart/report; report-type=disposition-notification; boundary=x"}}},
			want: AutoReply,
		},
		{
			name: "the simulator's NDR",
			msg: Message{From: "postmaster@contoso.example", Body: exchangeNDR, Headers: []Header{
				{"Content-Type", `multipart/report; report-type=delivery-status; boundary="sim-ndr"`},
				{"References", "<orig@contoso.example>"}, {"Auto-Submitted", "auto-replied"},
				{"X-MS-Exchange-Message-Is-Ndr", ""}, {"X-Original-Message-ID", "<orig@contoso.example>"},
			}},
			want: Bounce, marker: "header X-MS-Exchange-Message-Is-Ndr",
		},
		{
			name: "a DSN by its content type",
			msg: Message{From: "mailer-daemon@mx.example.net", Headers: []Header{
				{"Content-Type", `multipart/report; report-type="delivery-status"; boundary="b"`},
			}},
			want: Bounce, marker: "Content-Type multipart/report; report-type=delivery-status",
		},
		{
			name: "Outlook's NDR message class",
			msg:  Message{From: "postmaster@contoso.example", MessageClass: "REPORT.IPM.Note.NDR"},
			want: Bounce,
		},
		{
			name: "Exim's X-Failed-Recipients",
			msg:  Message{From: "mailer-daemon@mx.example.net", Headers: []Header{{"X-Failed-Recipients", "jo@example.org"}}},
			want: Bounce,
		},
		{
			name: "MAILER-DAEMON with a status line",
			msg:  Message{From: "MAILER-DAEMON@mx.example.net", Body: "Status: 5.1.1\r\nAction: failed\r\n"},
			want: Bounce,
		},
		{
			name: "a person writing from postmaster@ is a person",
			msg:  Message{From: "postmaster@example.org", Body: "Hi, I run mail here."},
			want: Reply,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.msg)
			if got.Kind != tt.want {
				t.Fatalf("Classify = %s (%s), want %s", got.Kind, got.Marker, tt.want)
			}
			if tt.marker != "" && got.Marker != tt.marker {
				t.Errorf("marker = %q, want %q", got.Marker, tt.marker)
			}
			if (got.Bounce != nil) != (tt.want == Bounce) {
				t.Errorf("bounce report = %+v for kind %s", got.Bounce, got.Kind)
			}
		})
	}
}

func TestBounceReport(t *testing.T) {
	t.Parallel()
	ndr := func(body string, hs ...Header) Message {
		return Message{From: "postmaster@contoso.example", Body: body,
			Headers: append([]Header{{"X-MS-Exchange-Message-Is-Ndr", ""}}, hs...)}
	}
	tests := []struct {
		name       string
		msg        Message
		recipients []string
		status     string
		permanent  bool
		senderSide bool
		original   string
	}{
		{
			name:       "Exchange's recipient block and remote reply",
			msg:        ndr(exchangeNDR, Header{"X-Original-Message-ID", "<orig@contoso.example>"}),
			recipients: []string{"jo@example.org"}, status: "5.1.1", permanent: true, original: "<orig@contoso.example>",
		},
		{
			name: "several recipients, upper case",
			msg: ndr("Delivery has failed to these recipients or groups:\r\n\r\nJo@Example.org\r\nsam@example.net\r\n\r\n" +
				"Remote Server returned '550 5.1.1 not found'"),
			recipients: []string{"jo@example.org", "sam@example.net"}, status: "5.1.1", permanent: true,
		},
		{
			name: "a delivery-status part: temporary",
			msg: ndr("Final-Recipient: rfc822; jo@example.org\r\nAction: delayed\r\nStatus: 4.4.7\r\n" +
				"Original-Message-ID: <orig@contoso.example>\r\n"),
			recipients: []string{"jo@example.org"}, status: "4.4.7", permanent: false, original: "<orig@contoso.example>",
		},
		{
			name:       "a delivery-status part: failed",
			msg:        ndr("Final-Recipient: rfc822;<jo@example.org>\r\nAction: failed\r\nStatus: 5.2.1\r\n"),
			recipients: []string{"jo@example.org"}, status: "5.2.1", permanent: true,
		},
		{
			name:       "over the sender's limit is not the recipient's fault",
			msg:        ndr("Delivery has failed to these recipients or groups:\r\n\r\njo@example.org\r\n\r\nRemote Server returned '550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients.'"),
			recipients: []string{"jo@example.org"}, status: "5.1.90", permanent: false, senderSide: true,
		},
		{
			name:       "X-Failed-Recipients, no status: not permanent on a guess",
			msg:        ndr("Your message could not be delivered.", Header{"X-Failed-Recipients", "jo@example.org, sam@example.net"}),
			recipients: []string{"jo@example.org", "sam@example.net"}, status: "", permanent: false,
		},
		{
			name:   "an IP address is no status code",
			msg:    ndr("Generating server: 10.5.0.1\r\nRemote Server returned '452 4.2.2 mailbox full'"),
			status: "4.2.2", permanent: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.msg)
			if got.Kind != Bounce {
				t.Fatalf("Classify = %s, want bounce", got.Kind)
			}
			b := got.Bounce
			if !slices.Equal(b.Recipients, tt.recipients) {
				t.Errorf("recipients = %q, want %q", b.Recipients, tt.recipients)
			}
			if b.Status != tt.status || b.Permanent != tt.permanent || b.SenderSide != tt.senderSide {
				t.Errorf("status %q permanent %v sender-side %v, want %q %v %v", b.Status, b.Permanent, b.SenderSide, tt.status, tt.permanent, tt.senderSide)
			}
			if b.OriginalMessageID != tt.original {
				t.Errorf("original = %q, want %q", b.OriginalMessageID, tt.original)
			}
		})
	}
}
