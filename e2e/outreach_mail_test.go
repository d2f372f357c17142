package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// tinyDOCX is the smallest ZIP that is a Word document: its content types
// and its main part.
func tinyDOCX(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>`,
		"word/document.xml": `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>`,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mailReady waits until mailbox knows the connected mailbox (identity's
// event reaches it shortly after the connection).
func mailReady(t *testing.T, a api, connID string) {
	t.Helper()
	poll.Until(t, 30*time.Second, func() error {
		if code, body := a.call("GET", "/v1/mailboxes/"+connID+"/health", nil, nil); code != http.StatusOK {
			return fmt.Errorf("mailbox health %d %s", code, body)
		}
		return nil
	})
}

// copiesWithSubject counts address's messages in folder with the subject.
func copiesWithSubject(t *testing.T, ctl *simclient.Client, address, folder, subject string) []simclient.MailMessage {
	t.Helper()
	list, err := ctl.Messages(t.Context(), address, folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []simclient.MailMessage
	for _, m := range list {
		if m.Subject == subject || m.Subject == "RE: "+subject {
			out = append(out, m)
		}
	}
	return out
}

func candidateEmail(t *testing.T, a api, candidateID, emailID string) *outreachv1.CandidateEmail {
	t.Helper()
	list := &outreachv1.ListCandidateEmailsResponse{}
	a.must("GET", "/v1/candidates/"+candidateID+"/emails?pageSize=200", nil, list)
	for _, e := range list.GetEmails() {
		if e.GetId() == emailID {
			return e
		}
	}
	t.Fatalf("e-mail %s is not listed: %v", emailID, list)
	return nil
}

func stageOf(t *testing.T, a api, candidateID string) string {
	t.Helper()
	c := &outreachv1.GetCandidateResponse{}
	a.must("GET", "/v1/candidates/"+candidateID, nil, c)
	stages := &outreachv1.ListStagesResponse{}
	a.must("GET", "/v1/stages", nil, stages)
	for _, st := range stages.GetStages() {
		if st.GetId() == c.GetCandidate().GetStageId() {
			return st.GetName()
		}
	}
	return ""
}

// OUT-4 with MB-1 and MB-3 for a one-off e-mail: notes public and private,
// a DOCX resume (a renamed program refused), an e-mail from the
// recruiter's mailbox that leaves once, the candidate's reply, both in the
// conversation once, and the timeline in order.
func TestScenario_OUT_4(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	ctl := sim(t, s)
	recruiterAPI, conn := connectedMailbox(t, s, contosoUser)
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	mailReady(t, recruiterAPI, conn.GetId())

	const address = "grace.hopper@navy.example"
	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Grace Hopper", Emails: []string{address}}, created)
	id := created.GetCandidate().GetId()
	base := "/v1/candidates/" + id
	if got := stageOf(t, recruiterAPI, id); got != "New" {
		t.Fatalf("a new candidate is %q", got)
	}

	// Notes: the private one is the author's (and admins') alone.
	recruiterAPI.must("POST", base+"/notes", &outreachv1.Note{Body: "Strong on compilers.", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PUBLIC}, &outreachv1.CreateNoteResponse{})
	recruiterAPI.must("POST", base+"/notes", &outreachv1.Note{Body: "Wants to stay in Virginia.", Visibility: outreachv1.NoteVisibility_NOTE_VISIBILITY_PRIVATE}, &outreachv1.CreateNoteResponse{})
	for who, tc := range map[string]struct {
		a    api
		want int
	}{"the author": {recruiterAPI, 2}, "another recruiter": {otherAPI, 1}} {
		notes := &outreachv1.ListNotesResponse{}
		tc.a.must("GET", base+"/notes", nil, notes)
		if len(notes.GetNotes()) != tc.want {
			t.Fatalf("%s sees %d notes, want %d", who, len(notes.GetNotes()), tc.want)
		}
	}

	// A DOCX resume is taken for what it is; a program renamed cv.docx is not.
	docx := tinyDOCX(t)
	body, ct := multipartUpload(t, "resume", "Grace Hopper.docx", docx)
	code, _, b := recruiterAPI.raw("POST", base+"/files", ct, body)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	up := &outreachv1.UploadCandidateFileResponse{}
	if err := protojson.Unmarshal(b, up); err != nil {
		t.Fatal(err)
	}
	if up.GetFile().GetContentType() != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
		t.Fatalf("uploaded %v", up.GetFile())
	}
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), bytes.Repeat([]byte{0}, 2048)...)
	body, ct = multipartUpload(t, "resume", "cv.docx", exe)
	code, _, b = recruiterAPI.raw("POST", base+"/files", ct, body)
	wantError(t, code, b, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(b), `"reason":"file_type_not_accepted"`) {
		t.Fatalf("the refusal should say why: %s", b)
	}

	// Bad input names the field and sends nothing.
	const subject = "Compilers at Contoso"
	send := &outreachv1.SendCandidateEmailRequest{MailboxConnectionId: conn.GetId(), SenderEmail: contosoUser, Subject: subject,
		HtmlBody: "<p>Hi Grace, would you talk about compilers?</p>", RequestId: "out4-first"}
	code, b = recruiterAPI.call("POST", base+"/emails", &outreachv1.SendCandidateEmailRequest{MailboxConnectionId: conn.GetId(), Subject: subject, RequestId: "x"}, nil)
	wantError(t, code, b, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(b), `"field":"html_body"`) {
		t.Fatalf("the refusal should name html_body: %s", b)
	}

	// The e-mail, sent twice with one request id, is one e-mail.
	first, again := &outreachv1.SendCandidateEmailResponse{}, &outreachv1.SendCandidateEmailResponse{}
	recruiterAPI.must("POST", base+"/emails", send, first)
	recruiterAPI.must("POST", base+"/emails", send, again)
	if first.GetEmail().GetId() != again.GetEmail().GetId() || first.GetEmail().GetToAddress() != address {
		t.Fatalf("one request id made %v and %v", first.GetEmail(), again.GetEmail())
	}
	emailID := first.GetEmail().GetId()
	poll.Until(t, 90*time.Second, func() error {
		if e := candidateEmail(t, recruiterAPI, id, emailID); e.GetState() != outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_SENT {
			return fmt.Errorf("e-mail is %v", e.GetState())
		}
		return nil
	})
	sentItems := copiesWithSubject(t, ctl, contosoUser, "sentitems", subject)
	if len(sentItems) != 1 {
		t.Fatalf("Sent Items hold %d copies, want 1", len(sentItems))
	}
	if inbox := copiesWithSubject(t, ctl, address, "inbox", subject); len(inbox) != 1 {
		t.Fatalf("the candidate got %d copies, want 1", len(inbox))
	}
	if got := stageOf(t, recruiterAPI, id); got != "Contacted" {
		t.Fatalf("after the e-mail the candidate is %q", got)
	}

	// The candidate answers.
	if _, err := ctl.Reply(t.Context(), simclient.Reply{From: address, InternetMessageID: sentItems[0].InternetMessageID, Body: "Gladly."}); err != nil {
		t.Fatal(err)
	}
	var thread *outreachv1.GetConversationResponse
	poll.Until(t, 60*time.Second, func() error {
		convs := &outreachv1.ListConversationsResponse{}
		recruiterAPI.must("GET", base+"/conversations", nil, convs)
		if len(convs.GetConversations()) != 1 {
			return fmt.Errorf("%d conversations", len(convs.GetConversations()))
		}
		thread = &outreachv1.GetConversationResponse{}
		recruiterAPI.must("GET", "/v1/conversations/"+convs.GetConversations()[0].GetId(), nil, thread)
		if n := len(thread.GetMessages()); n != 2 {
			return fmt.Errorf("the thread holds %d messages", n)
		}
		return nil
	})
	sent, reply := thread.GetMessages()[0], thread.GetMessages()[1]
	if sent.GetKind() != outreachv1.MessageKind_MESSAGE_KIND_SENT || sent.GetSubject() != subject || sent.GetInternetMessageId() != sentItems[0].InternetMessageID ||
		reply.GetKind() != outreachv1.MessageKind_MESSAGE_KIND_REPLY || !strings.EqualFold(reply.GetFrom(), address) {
		t.Fatalf("the thread: %v", thread.GetMessages())
	}
	if e := candidateEmail(t, recruiterAPI, id, emailID); e.GetConversationId() != thread.GetConversation().GetId() {
		t.Fatalf("the e-mail names conversation %q, not %q", e.GetConversationId(), thread.GetConversation().GetId())
	}
	poll.Until(t, 30*time.Second, func() error {
		if got := stageOf(t, recruiterAPI, id); got != "Replied" {
			return fmt.Errorf("stage %q", got)
		}
		return nil
	})

	// The timeline, oldest first: the notes, the file, the e-mail, the reply.
	tl := &outreachv1.ListTimelineResponse{}
	recruiterAPI.must("GET", base+"/timeline?kinds=TIMELINE_KIND_NOTE&kinds=TIMELINE_KIND_FILE_ADDED&kinds=TIMELINE_KIND_MESSAGE_SENT&kinds=TIMELINE_KIND_MESSAGE_RECEIVED", nil, tl)
	var kinds []string
	for _, e := range tl.GetEntries() {
		kinds = append(kinds, strings.TrimPrefix(e.GetKind().String(), "TIMELINE_KIND_"))
	}
	if want := "NOTE NOTE FILE_ADDED MESSAGE_SENT MESSAGE_RECEIVED"; strings.Join(kinds, " ") != want {
		t.Fatalf("timeline %v, want %s", kinds, want)
	}

	// A sent e-mail cannot be cancelled; another organization sees nothing.
	code, b = recruiterAPI.call("POST", base+"/emails/"+emailID+":cancel", &outreachv1.CancelCandidateEmailRequest{}, nil)
	wantError(t, code, b, http.StatusBadRequest, "FAILED_PRECONDITION")
	_, strangerAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, b = strangerAPI.call("GET", base+"/emails", nil, nil)
	wantError(t, code, b, http.StatusNotFound, "NOT_FOUND")
	send.RequestId = "stranger"
	code, b = strangerAPI.call("POST", base+"/emails", send, nil)
	wantError(t, code, b, http.StatusNotFound, "NOT_FOUND")
}

// A one-off e-mail scheduled for later is with mailbox until its time and
// can be cancelled there: it never leaves.
func TestOutreach_ScheduledEmailCancelled(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	ctl := sim(t, s)
	recruiterAPI, conn := connectedMailbox(t, s, contosoUser)
	mailReady(t, recruiterAPI, conn.GetId())
	const address = "katherine.johnson@nasa.example"
	created := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Katherine Johnson", Emails: []string{address}}, created)
	base := "/v1/candidates/" + created.GetCandidate().GetId()

	const subject = "Orbits, next week"
	out := &outreachv1.SendCandidateEmailResponse{}
	recruiterAPI.must("POST", base+"/emails", &outreachv1.SendCandidateEmailRequest{MailboxConnectionId: conn.GetId(), Subject: subject,
		HtmlBody: "<p>Hello Katherine</p>", RequestId: "scheduled-1", SendTime: timestamppb.New(time.Now().Add(2 * time.Hour))}, out)
	id := out.GetEmail().GetId()
	// Handed to mailbox, waiting for its time.
	poll.Until(t, 60*time.Second, func() error {
		if e := candidateEmail(t, recruiterAPI, created.GetCandidate().GetId(), id); e.GetState() != outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_QUEUED {
			return fmt.Errorf("e-mail is %v", e.GetState())
		}
		return nil
	})
	cancelled := &outreachv1.CancelCandidateEmailResponse{}
	recruiterAPI.must("POST", base+"/emails/"+id+":cancel", &outreachv1.CancelCandidateEmailRequest{}, cancelled)
	if cancelled.GetEmail().GetState() != outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_CANCELLED {
		t.Fatalf("cancel %v", cancelled.GetEmail())
	}
	// Mailbox holds it cancelled: it will not leave at its time.
	mb := mailboxClient(t, s, "mailbox")
	msgs, err := listAll(t, s, mb, conn.GetOrganizationId(), conn.GetId())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range msgs {
		if m.GetSubject() == subject {
			found = true
			if m.GetState() != mailboxv1.MessageState_MESSAGE_STATE_CANCELLED {
				t.Fatalf("mailbox holds the e-mail %v", m.GetState())
			}
		}
	}
	if !found {
		t.Fatalf("mailbox never got the e-mail: %v", msgs)
	}
	if n := len(copiesWithSubject(t, ctl, contosoUser, "sentitems", subject)); n != 0 {
		t.Fatalf("a cancelled e-mail is in Sent Items %d times", n)
	}
}
