package flows_test

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func (w *world) sent(e store.Enrollment, step int, at time.Time) {
	w.t.Helper()
	w.deliver(flows.EventMessageSent, &mailboxv1.MessageSent{
		MessageId: "m", MailboxId: "conn-1", IdempotencyKey: flows.IdempotencyKey(e.ID, step, e.FlowVersion),
		ProviderMessageId: "graph-" + e.ID[:8] + "-" + string(rune('0'+step)), InternetMessageId: "<" + e.ID + ">", ConversationId: "conv-" + e.ID[:8],
		SentTime: timestamppb.New(at),
	})
}

func TestSentRepliedAndFigures(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada", "ada@example.com")
	e := w.enrollment(w.enroll(f.ID, ada.ID)[0].EnrollmentID)
	w.run(e)
	sentAt := time.Date(2026, 3, 12, 9, 30, 0, 0, time.UTC) // Thursday 10:30 in Berlin
	w.sent(e, 0, sentAt)
	w.sent(e, 0, sentAt) // a second copy changes nothing
	e = w.enrollment(e.ID)
	// Two business days after Thursday 10:30 is Monday 10:30.
	monday := time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)
	if e.StepsSent != 1 || e.NextStep != 1 || e.NextSendAt == nil || !e.NextSendAt.Equal(monday) || e.SubmittedStep != -1 {
		t.Fatalf("after the first send %+v", e)
	}
	if got := w.stageName(ada.ID); got != "Contacted" {
		t.Fatalf("stage %q", got)
	}
	w.clock.set(monday)
	w.run(e)
	msgs := w.mail.messages()
	if len(msgs) != 2 || msgs[1].ReplyTo != e.LastProviderMessageID || msgs[1].ReplyTo == "" {
		t.Fatalf("the follow-up is not a reply in the thread: %+v", msgs)
	}
	w.sent(e, 1, monday)
	e = w.enrollment(e.ID)
	if e.Status != store.EnrollmentStopped || e.StopReason != store.StopFinished {
		t.Fatalf("after the last step %+v", e)
	}
	if fl, err := w.rules.Get(t.Context(), w.org, f.ID); err != nil || fl.Status != store.FlowCompleted {
		t.Fatalf("a flow whose every enrollment finished is %s", fl.Status)
	}
	// A reply after the last step still counts, and moves the stage.
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_REPLY,
		SentIdempotencyKey: flows.IdempotencyKey(e.ID, 1, 1), ReceiveTime: timestamppb.New(monday.Add(time.Hour))})
	if got := w.stageName(ada.ID); got != "Replied" {
		t.Fatalf("stage %q", got)
	}
	st, err := w.rules.Stats(t.Context(), w.org, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flow.Enrolled != 1 || st.Flow.Contacted != 1 || st.Flow.Sent != 2 || st.Flow.Replied != 1 || len(st.Steps) != 2 ||
		st.Steps[0].Sent != 1 || st.Steps[1].Sent != 1 || st.Steps[1].Replied != 1 {
		t.Fatalf("figures %+v", st)
	}
}

func TestReplyStopsTheNextStep(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada", "ada@example.com")
	e := w.enrollment(w.enroll(f.ID, ada.ID)[0].EnrollmentID)
	w.run(e)
	w.sent(e, 0, w.clock.now())
	e = w.enrollment(e.ID)
	// An out-of-office changes nothing.
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1)})
	if got := w.enrollment(e.ID); got.Status != store.EnrollmentActive {
		t.Fatalf("an auto-reply stopped it: %+v", got)
	}
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_REPLY, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1)})
	got := w.enrollment(e.ID)
	if got.Status != store.EnrollmentStopped || got.StopReason != store.StopReplied || got.RepliedAt == nil {
		t.Fatalf("after the reply %+v", got)
	}
	w.clock.set(*e.NextSendAt)
	w.run(e) // the follow-up's job, already queued
	if len(w.mail.messages()) != 1 {
		t.Fatal("the follow-up left after the reply")
	}
	if w.stageName(ada.ID) != "Replied" {
		t.Fatal("not moved to Replied")
	}
}

func TestReplyKeepsALaterStage(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada", "ada@example.com")
	e := w.enrollment(w.enroll(f.ID, ada.ID)[0].EnrollmentID)
	w.run(e)
	w.sent(e, 0, w.clock.now())
	var interested string
	if err := w.pool.QueryRow(t.Context(), `SELECT id::text FROM stages WHERE org_id = $1 AND name = 'Interested'`, w.org).Scan(&interested); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.MoveCandidate(t.Context(), w.org, ada.ID, interested, store.Move{Source: "user"}, func(context.Context, pgx.Tx, store.StageMove) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := w.enrollment(e.ID)
	if got.Status != store.EnrollmentStopped || got.StopReason != store.StopStageFinal || got.InterestedAt == nil {
		t.Fatalf("after the move to Interested %+v", got)
	}
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_REPLY, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1)})
	if w.stageName(ada.ID) != "Interested" {
		t.Fatal("a reply moved the candidate back to Replied")
	}
	st, err := w.rules.Stats(t.Context(), w.org, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flow.Interested != 1 || st.Steps[0].Interested != 1 || st.Flow.Replied != 1 {
		t.Fatalf("figures %+v", st)
	}
}

func TestBounceStopsAndMarksTheAddress(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada", "ada@example.com")
	e := w.enrollment(w.enroll(f.ID, ada.ID)[0].EnrollmentID)
	w.run(e)
	w.sent(e, 0, w.clock.now())
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_BOUNCE, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1),
		BouncedRecipient: "ADA@example.com", BouncePermanent: true})
	got := w.enrollment(e.ID)
	if got.Status != store.EnrollmentStopped || got.StopReason != store.StopBounced {
		t.Fatalf("after the bounce %+v", got)
	}
	other := w.flow(input())
	if rs := w.enroll(other.ID, ada.ID); rs[0].Outcome != flows.UndeliverableAddress {
		t.Fatalf("a bounced address enrolled: %+v", rs)
	}
	st, err := w.rules.Stats(t.Context(), w.org, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flow.Bounced != 1 || st.Steps[0].Bounced != 1 {
		t.Fatalf("figures %+v", st)
	}
}

// A follow-up one business day after a Friday send in Berlin leaves on
// Monday at the same wall-clock time, although the clocks moved on Sunday.
func TestFollowUpAcrossDaylightSaving(t *testing.T) {
	w := newWorld(t)
	in := input()
	in.Steps[1].Delay = 1
	f := w.flow(in)
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	e := w.enrollment(w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID)[0].EnrollmentID)
	w.run(e)
	friday := time.Date(2026, 3, 27, 15, 0, 0, 0, time.UTC) // 16:00 CET
	w.sent(e, 0, friday)
	monday := time.Date(2026, 3, 30, 14, 0, 0, 0, time.UTC) // 16:00 CEST
	if got := w.enrollment(e.ID); got.NextSendAt == nil || !got.NextSendAt.Equal(monday) {
		t.Fatalf("follow-up at %v, want %s", got.NextSendAt, monday)
	}
}

// A reply that arrives while a step is still queued in mailbox cancels it.
func TestReplyCancelsAQueuedStep(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	e := w.enrollment(w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID)[0].EnrollmentID)
	w.run(e)
	w.sent(e, 0, w.clock.now())
	e = w.enrollment(e.ID)
	w.clock.set(*e.NextSendAt)
	w.run(e) // the follow-up is with mailbox, not sent yet
	queued := w.enrollment(e.ID)
	if queued.SubmittedStep != 1 || queued.SubmittedMessageID != "msg-"+flows.IdempotencyKey(e.ID, 1, 1) {
		t.Fatalf("submitted %+v", queued)
	}
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_REPLY, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1)})
	ca := w.cancelJob()
	if err := flows.NewCancelWorker(w.rules).Work(t.Context(), &river.Job[flows.CancelArgs]{Args: ca}); err != nil {
		t.Fatal(err)
	}
	if len(w.mail.cancelled) != 1 || w.mail.cancelled[0] != queued.SubmittedMessageID {
		t.Fatalf("cancelled %v", w.mail.cancelled)
	}
	if got := w.enrollment(e.ID); got.Status != store.EnrollmentStopped || got.StopReason != store.StopReplied {
		t.Fatalf("after the reply %+v", got)
	}
}

// A reply that arrives after a step's check, while mailbox takes the
// step, stops the enrollment; the step, which the stop could not see,
// is cancelled rather than recorded.
func TestReplyDuringTheHandOffCancelsTheStep(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	e := w.enrollment(w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID)[0].EnrollmentID)
	w.run(e)
	w.sent(e, 0, w.clock.now())
	e = w.enrollment(e.ID)
	w.clock.set(*e.NextSendAt)
	w.mail.mu.Lock()
	w.mail.onSubmit = func() {
		w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{Kind: mailboxv1.InboundKind_INBOUND_KIND_REPLY, SentIdempotencyKey: flows.IdempotencyKey(e.ID, 0, 1)})
	}
	w.mail.mu.Unlock()
	w.run(e)
	got := w.enrollment(e.ID)
	if got.Status != store.EnrollmentStopped || got.StopReason != store.StopReplied || got.SubmittedStep == 1 {
		t.Fatalf("after the reply %+v", got)
	}
	ca := w.cancelJob()
	if want := "msg-" + flows.IdempotencyKey(e.ID, 1, 1); ca.MessageID != want {
		t.Fatalf("cancels %q, want %q", ca.MessageID, want)
	}
}

// cancelJob is the one cancel job queued.
func (w *world) cancelJob() flows.CancelArgs {
	w.t.Helper()
	var args []byte
	if err := w.pool.QueryRow(w.t.Context(), `SELECT args FROM river_job WHERE kind = $1`, flows.CancelKind).Scan(&args); err != nil {
		w.t.Fatalf("no cancel job: %v", err)
	}
	var ca flows.CancelArgs
	if err := json.Unmarshal(args, &ca); err != nil {
		w.t.Fatal(err)
	}
	return ca
}
