package flows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// clock is a settable now, or the real one once it follows.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	live bool
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now()
	}
	return c.t
}
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t, c.live = t, false }

// follow makes the clock the real one, as River's is.
func (c *clock) follow() { c.mu.Lock(); defer c.mu.Unlock(); c.live = true }

// fakeMailbox keeps what it was given by idempotency key, as mailbox
// does: the same key never makes a second message.
type fakeMailbox struct {
	mu    sync.Mutex
	calls int
	byKey map[string]flows.Message
	order []string
	// at is when each message (in order) was first handed over.
	at []time.Time
	// cancelled are the message ids asked to be cancelled.
	cancelled []string
	// fail makes the next Submit store the message and then fail, as a
	// connection lost after mailbox committed would.
	fail bool
	// onSubmit runs after a Submit took its message (then cleared).
	onSubmit func()
}

func (m *fakeMailbox) Submit(_ context.Context, msg flows.Message) (flows.Submitted, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.byKey == nil {
		m.byKey = map[string]flows.Message{}
	}
	if _, ok := m.byKey[msg.IdempotencyKey]; !ok {
		m.byKey[msg.IdempotencyKey] = msg
		m.order = append(m.order, msg.IdempotencyKey)
		m.at = append(m.at, time.Now())
	}
	if m.fail {
		m.fail = false
		return flows.Submitted{}, errors.New("connection reset")
	}
	if hook := m.onSubmit; hook != nil {
		m.onSubmit = nil
		m.mu.Unlock()
		hook()
		m.mu.Lock()
	}
	return flows.Submitted{MessageID: "msg-" + msg.IdempotencyKey}, nil
}

func (m *fakeMailbox) Cancel(_ context.Context, _, messageID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancelled = append(m.cancelled, messageID)
	return nil
}

func (m *fakeMailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// handed is how many messages were handed over.
func (m *fakeMailbox) handed() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

func (m *fakeMailbox) messages() []flows.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []flows.Message
	for _, k := range m.order {
		out = append(out, m.byKey[k])
	}
	return out
}

// recordingPublisher keeps what was published.
type recordingPublisher struct {
	mu     sync.Mutex
	events []events.Event
}

func (p *recordingPublisher) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
	return uuid.NewString(), nil
}

func (p *recordingPublisher) types() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		out = append(out, e.Type)
	}
	return out
}

type world struct {
	t     testing.TB
	pool  *pgxpool.Pool
	st    *store.Store
	rules *flows.Flows
	mail  *fakeMailbox
	pub   *recordingPublisher
	clock *clock
	org   string
	owner authz.Principal
}

func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldOn(t, storetest.New(t))
}

// newWorldOn is newWorld on a pool of the caller's (a larger one, for
// benchmarks), migrated already.
func newWorldOn(t testing.TB, pool *pgxpool.Pool) *world {
	t.Helper()
	if err := jobs.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, pool: pool, st: store.New(pool), mail: &fakeMailbox{}, pub: &recordingPublisher{},
		clock: &clock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}, org: uuid.NewString()}
	stagePub := func(ctx context.Context, tx pgx.Tx, m store.StageMove) error {
		_, err := w.pub.Publish(ctx, tx, events.Event{Type: "candidate.stage_changed", AggregateID: m.Candidate.ID})
		return err
	}
	w.rules = flows.New(flows.Options{Store: w.st, Publisher: w.pub, StagePublish: stagePub, Mailbox: w.mail, Now: w.clock.now})
	w.rules.SetJobs(jc)
	w.owner = authz.Principal{Kind: authz.KindAPIToken, OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	return w
}

func (w *world) candidate(name string, emails ...string) store.Candidate {
	w.t.Helper()
	c, err := w.st.CreateCandidate(w.t.Context(), store.Candidate{OrgID: w.org, Name: name, Emails: emails}, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func input(steps ...store.FlowStep) flows.Input {
	if len(steps) == 0 {
		steps = []store.FlowStep{
			{DelayUnit: "hours", Delay: 0, Subject: "Hello {{ candidate.first_name }}", Body: `<p>Hi {{ candidate.first_name | default: "there" }}</p>`},
			{DelayUnit: "business_days", Delay: 2, Subject: "Following up", Body: "<p>Any thoughts, {{ candidate.first_name }}?</p>"},
		}
	}
	return flows.Input{Name: "Backend engineers", Sender: store.FlowVersion{MailboxConnectionID: "conn-1", SenderName: "Rita Recruiter", SenderEmail: "rita@acme.test"},
		TimeZone: "Europe/Berlin", Steps: steps}
}

func (w *world) flow(in flows.Input) store.Flow {
	w.t.Helper()
	f, err := w.rules.Create(w.t.Context(), w.owner, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

func (w *world) enroll(flowID string, ids ...string) []flows.EnrollResult {
	w.t.Helper()
	rs, err := w.rules.Enroll(w.t.Context(), w.owner, flowID, ids)
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

func (w *world) enrollment(id string) store.Enrollment {
	w.t.Helper()
	e, err := w.st.Enrollment(w.t.Context(), w.org, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) stepJobs() int {
	w.t.Helper()
	var n int
	if err := w.pool.QueryRow(w.t.Context(), `SELECT count(*) FROM river_job WHERE kind = $1`, flows.StepKind).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) run(e store.Enrollment) {
	w.t.Helper()
	if err := w.rules.RunStep(w.t.Context(), flows.StepArgs{OrgID: w.org, EnrollmentID: e.ID, Step: e.NextStep, Seq: e.ScheduleSeq}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) deliver(typ string, payload proto.Message) {
	w.t.Helper()
	any, err := anypb.New(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: typ, Source: "mailbox", OrganizationId: w.org, Payload: any}
	apply := w.rules.ApplyMessageSent
	if typ == flows.EventMessageReceived {
		apply = w.rules.ApplyMessageReceived
	}
	if err := pgx.BeginFunc(w.t.Context(), w.pool, func(tx pgx.Tx) error { return apply(w.t.Context(), tx, ev) }); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) stageName(candidateID string) string {
	w.t.Helper()
	var name string
	if err := w.pool.QueryRow(w.t.Context(), `SELECT s.name FROM candidates c JOIN stages s ON s.id = c.stage_id WHERE c.id = $1`, candidateID).Scan(&name); err != nil {
		w.t.Fatal(err)
	}
	return name
}

func wantKind(t *testing.T, err error, k apperr.Kind, field string) *apperr.Error {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != k || ae.Field != field {
		t.Fatalf("want %v on %q, got %v", k, field, err)
	}
	return ae
}

func TestLifecycleAndVersions(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	f := w.flow(input())
	if f.Status != store.FlowDraft || f.Current.Version != 1 || f.Current.SenderUserID != w.owner.UserID || len(f.Current.WindowDays) != 5 {
		t.Fatalf("created %+v", f)
	}
	ada := w.candidate("Ada Lovelace", "ada@example.com")
	rs := w.enroll(f.ID, ada.ID)
	if rs[0].Outcome != flows.Enrolled {
		t.Fatalf("enroll %+v", rs)
	}
	// A Draft schedules nothing.
	if e := w.enrollment(rs[0].EnrollmentID); e.NextSendAt != nil || w.stepJobs() != 0 {
		t.Fatalf("a draft scheduled %+v (%d jobs)", e, w.stepJobs())
	}
	// Editing a Draft changes its only version.
	in := input()
	in.Name = "Backend, renamed"
	if f, err := w.rules.Update(ctx, w.owner, f.ID, in, []string{"name", "steps"}); err != nil || f.Current.Version != 1 || f.Name != in.Name {
		t.Fatalf("draft edit: %+v %v", f, err)
	}
	f, err := w.rules.Activate(ctx, w.owner, f.ID)
	if err != nil || f.Status != store.FlowActive {
		t.Fatalf("activate: %+v %v", f, err)
	}
	a := w.enrollment(rs[0].EnrollmentID)
	// 09:00 UTC on a Tuesday is 10:00 in Berlin, inside the window.
	if a.NextSendAt == nil || !a.NextSendAt.Equal(w.clock.now()) || w.stepJobs() != 1 {
		t.Fatalf("activation scheduled %+v (%d jobs)", a, w.stepJobs())
	}
	// Editing an active flow makes version 2; Ada stays on 1, Bob gets 2.
	in.Steps[0].Subject = "Hi again {{ candidate.first_name }}"
	f, err = w.rules.Update(ctx, w.owner, f.ID, in, []string{"steps"})
	if err != nil || f.Current.Version != 2 {
		t.Fatalf("active edit: %+v %v", f, err)
	}
	bob := w.candidate("Bob", "bob@example.com")
	rb := w.enroll(f.ID, bob.ID)
	if w.enrollment(rs[0].EnrollmentID).FlowVersion != 1 || w.enrollment(rb[0].EnrollmentID).FlowVersion != 2 {
		t.Fatal("versions were not kept")
	}
	v1, err := w.rules.Version(ctx, w.org, f.ID, 1)
	if err != nil || !strings.HasPrefix(v1.Current.Steps[0].Subject, "Hello") {
		t.Fatalf("version 1: %+v %v", v1, err)
	}
	// Ada's step renders from version 1, Bob's from version 2.
	w.run(w.enrollment(rs[0].EnrollmentID))
	w.run(w.enrollment(rb[0].EnrollmentID))
	msgs := w.mail.messages()
	if len(msgs) != 2 || msgs[0].Subject != "Hello Ada" || msgs[1].Subject != "Hi again Bob" || msgs[0].HTMLBody != "<p>Hi Ada</p>" {
		t.Fatalf("sent %+v", msgs)
	}
	if _, err := w.rules.Complete(ctx, w.owner, f.ID, false); err == nil {
		t.Fatal("completed without confirm")
	}
	if f, err = w.rules.Pause(ctx, w.owner, f.ID); err != nil || f.Status != store.FlowPaused {
		t.Fatalf("pause: %v", err)
	}
	if _, err := w.rules.Archive(ctx, w.owner, f.ID); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("archived a paused flow: %v", err)
	}
	if f, err = w.rules.Complete(ctx, w.owner, f.ID, true); err != nil || f.Status != store.FlowCompleted {
		t.Fatalf("complete: %v", err)
	}
	if e := w.enrollment(rs[0].EnrollmentID); e.Status != store.EnrollmentStopped || e.StopReason != store.StopFlowCompleted {
		t.Fatalf("after completion %+v", e)
	}
	if _, err := w.rules.Update(ctx, w.owner, f.ID, in, []string{"name"}); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("edited a completed flow: %v", err)
	}
	if f, err = w.rules.Archive(ctx, w.owner, f.ID); err != nil || f.Status != store.FlowArchived {
		t.Fatalf("archive: %v", err)
	}
	if got := w.pub.types(); len(got) < 2 || got[0] != flows.EventEnrollmentCreated || got[1] != flows.EventEnrollmentCreated {
		t.Fatalf("published %v", got)
	}
}

func TestOnlyOwnerOrAdminChanges(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	other := authz.Principal{OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	if _, err := w.rules.Activate(t.Context(), other, f.ID); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("another recruiter activated: %v", err)
	}
	if _, err := w.rules.Update(t.Context(), other, f.ID, input(), []string{"name"}); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("another recruiter edited: %v", err)
	}
	admin := authz.Principal{OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleAdmin}
	if _, err := w.rules.Activate(t.Context(), admin, f.ID); err != nil {
		t.Fatalf("an admin could not activate: %v", err)
	}
	stranger := authz.Principal{OrgID: uuid.NewString(), UserID: w.owner.UserID, Role: authz.RoleSuperAdmin}
	if _, err := w.rules.Pause(t.Context(), stranger, f.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another organization's flow: %v", err)
	}
}

func TestTemplatesAreCheckedOnSave(t *testing.T) {
	w := newWorld(t)
	in := input(
		store.FlowStep{DelayUnit: "hours", Subject: "Hi", Body: "Hello"},
		store.FlowStep{DelayUnit: "days", Delay: 1, Subject: "Again", Body: "Line one\n{{ candidate.nickname | default: \"you\" }}"},
	)
	_, err := w.rules.Create(t.Context(), w.owner, in)
	ae := wantKind(t, err, apperr.KindInvalidArgument, "flow.steps[1].body")
	if ae.Metadata["line"] != "2" || ae.Metadata["variable"] != "candidate.nickname" || !strings.Contains(ae.Public, "step 2") {
		t.Fatalf("error %+v", ae)
	}
	in.Steps[1].Body = "{% if candidate.title %}"
	wantInvalid(t, mustErr(w.rules.Create(t.Context(), w.owner, in)), "flow.steps[1].body")
	// Custom fields of the organization are variables.
	if err := w.st.CreateFieldDefinition(t.Context(), w.org, store.FieldDefinition{Key: "github", DisplayName: "GitHub", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	in.Steps[1].Body = "{{ candidate.custom_fields.github | default: 'your code' }}"
	f := w.flow(in)
	ada := w.candidate("Ada <Countess> Lovelace", "ada@example.com")
	m, err := w.rules.Preview(t.Context(), w.org, f.ID, 0, 0, ada.ID)
	if err != nil || m.HTMLBody != "Hello" {
		t.Fatalf("preview %+v %v", m, err)
	}
	in.Steps[0].Body = "<b>{{ candidate.last_name }}</b>"
	if f, err = w.rules.Update(t.Context(), w.owner, f.ID, in, []string{"steps"}); err != nil {
		t.Fatal(err)
	}
	if m, err := w.rules.Preview(t.Context(), w.org, f.ID, 0, 0, ada.ID); err != nil || m.HTMLBody != "<b>&lt;Countess&gt; Lovelace</b>" {
		t.Fatalf("escaped preview %q", m.HTMLBody)
	}
	if _, err := w.rules.Preview(t.Context(), uuid.NewString(), f.ID, 0, 0, ada.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another org previewed: %v", err)
	}
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if ae := wantKind(t, err, apperr.KindInvalidArgument, field); ae.Public == "" {
		t.Fatalf("no reason for %s", field)
	}
}

func mustErr[T any](_ T, err error) error { return err }

func TestBadInputNamesTheField(t *testing.T) {
	w := newWorld(t)
	cases := map[string]func(*flows.Input){
		"flow.name":                         func(in *flows.Input) { in.Name = "" },
		"flow.time_zone":                    func(in *flows.Input) { in.TimeZone = "Mars/Olympus" },
		"flow.sender.mailbox_connection_id": func(in *flows.Input) { in.Sender.MailboxConnectionID = "" },
		"flow.sender.user_id":               func(in *flows.Input) { in.Sender.SenderUserID = uuid.NewString() },
		"flow.window.end_time":              func(in *flows.Input) { in.Window = &flows.WindowInput{Days: []int{1}, Start: "18:00", End: "08:00"} },
		"flow.window.days":                  func(in *flows.Input) { in.Window = &flows.WindowInput{Days: []int{8}, Start: "08:00", End: "18:00"} },
		"flow.holidays[0]":                  func(in *flows.Input) { in.Holidays = []string{"25.12.2026"} },
		"flow.steps":                        func(in *flows.Input) { in.Steps = nil },
		"flow.steps[0].delay_unit":          func(in *flows.Input) { in.Steps[0].DelayUnit = "weeks" },
		"flow.steps[1].delay":               func(in *flows.Input) { in.Steps[1].Delay = 400 },
		"flow.steps[0].subject":             func(in *flows.Input) { in.Steps[0].Subject = "" },
		"flow.job_id":                       func(in *flows.Input) { in.JobID = "job-1" },
	}
	for field, change := range cases {
		in := input()
		change(&in)
		wantInvalid(t, mustErr(w.rules.Create(t.Context(), w.owner, in)), field)
	}
	// A teammate's grant lets the owner send as them.
	mate := authz.Principal{OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	if _, err := w.rules.Grant(t.Context(), mate, w.owner.UserID); err != nil {
		t.Fatal(err)
	}
	in := input()
	in.Sender.SenderUserID = mate.UserID
	if f := w.flow(in); f.Current.SenderUserID != mate.UserID {
		t.Fatalf("sender %q", f.Current.SenderUserID)
	}
}

func TestEnrollReportsEachCandidate(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	other := w.flow(input())
	ok := w.candidate("Ada", "ada@example.com")
	none := w.candidate("No Mail")
	bounced := w.candidate("Bounced", "gone@example.com")
	busy := w.candidate("Busy", "busy@example.com")
	if err := w.st.InTx(t.Context(), func(tx pgx.Tx) error {
		return store.MarkUndeliverable(t.Context(), tx, w.org, "GONE@example.com", "test")
	}); err != nil {
		t.Fatal(err)
	}
	w.enroll(other.ID, busy.ID)
	foreign, err := w.st.CreateCandidate(t.Context(), store.Candidate{OrgID: uuid.NewString(), Name: "Foreign", Emails: []string{"f@example.com"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	rs := w.enroll(f.ID, ok.ID, ok.ID, none.ID, bounced.ID, busy.ID, foreign.ID, "not-an-id")
	want := []flows.Outcome{flows.Enrolled, flows.AlreadyEnrolled, flows.NoEmail, flows.UndeliverableAddress, flows.InAnotherFlow, flows.CandidateNotFound, flows.CandidateNotFound}
	for i, r := range rs {
		if r.Outcome != want[i] {
			t.Fatalf("row %d: %+v, want %v", i, r, want[i])
		}
	}
	if rs[1].EnrollmentID != rs[0].EnrollmentID || rs[4].OtherFlowID != other.ID {
		t.Fatalf("rows %+v", rs)
	}
	if _, err := w.rules.Enroll(t.Context(), w.owner, f.ID, make([]string, 1001)); err == nil {
		t.Fatal("1,001 candidates accepted")
	}
	st, err := w.rules.Stats(t.Context(), w.org, f.ID)
	if err != nil || st.Flow.Enrolled != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// Once the other flow stops for Busy, Busy may join this one.
	if _, err := w.rules.Remove(t.Context(), w.owner, w.enroll(other.ID, busy.ID)[0].EnrollmentID); err != nil {
		t.Fatal(err)
	}
	if rs := w.enroll(f.ID, busy.ID); rs[0].Outcome != flows.Enrolled {
		t.Fatalf("after removal %+v", rs)
	}
}

func TestStepIsHandedToMailboxOnceEvenWhenRunTwice(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada, bob := w.candidate("Ada", "ada@example.com"), w.candidate("Bob", "bob@example.com")
	rs := w.enroll(f.ID, ada.ID, bob.ID)
	a := w.enrollment(rs[0].EnrollmentID)
	w.run(a)
	w.run(a) // the job again, as after a crash before River recorded it
	// Bob's first attempt reaches mailbox but its answer is lost.
	b := w.enrollment(rs[1].EnrollmentID)
	w.mail.fail = true
	if err := w.rules.RunStep(t.Context(), flows.StepArgs{OrgID: w.org, EnrollmentID: b.ID, Step: 0, Seq: b.ScheduleSeq}); err == nil {
		t.Fatal("a failed submit was not retried")
	}
	w.run(b)
	w.run(b)
	msgs := w.mail.messages()
	if len(msgs) != 2 || w.mail.count() != 3 {
		t.Fatalf("%d messages from %d calls", len(msgs), w.mail.count())
	}
	if msgs[0].IdempotencyKey != flows.IdempotencyKey(a.ID, 0, 1) || msgs[0].To != "ada@example.com" || msgs[0].MailboxID != "conn-1" || msgs[0].ReplyTo != "" {
		t.Fatalf("message %+v", msgs[0])
	}
	if e := w.enrollment(a.ID); e.SubmittedStep != 0 || e.NextSendAt != nil {
		t.Fatalf("after submit %+v", e)
	}
}

func TestOutsideTheWindowWaitsForItsOpening(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	rs := w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID)
	e := w.enrollment(rs[0].EnrollmentID)
	// The job runs late: Saturday 12:00 in Berlin.
	w.clock.set(time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC))
	w.run(e)
	if len(w.mail.messages()) != 0 {
		t.Fatal("sent on a Saturday")
	}
	after := w.enrollment(e.ID)
	monday := time.Date(2026, 3, 16, 7, 0, 0, 0, time.UTC) // 08:00 CET
	if after.ScheduleSeq != e.ScheduleSeq+1 || after.NextSendAt == nil || !after.NextSendAt.Equal(monday) || w.stepJobs() != 2 {
		t.Fatalf("rescheduled %+v (%d jobs)", after, w.stepJobs())
	}
	// The superseded job does nothing; the new one sends.
	w.clock.set(monday)
	w.run(e)
	if len(w.mail.messages()) != 0 {
		t.Fatal("the superseded job sent")
	}
	w.run(after)
	if len(w.mail.messages()) != 1 {
		t.Fatal("the rescheduled job did not send")
	}
}

func TestPausedFlowSendsNothingAndResumeSpreadsTheBacklog(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	rs := w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID, w.candidate("Bob", "bob@example.com").ID, w.candidate("Cy", "cy@example.com").ID)
	if _, err := w.rules.Pause(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		w.run(w.enrollment(r.EnrollmentID))
	}
	if len(w.mail.messages()) != 0 {
		t.Fatal("a paused flow sent")
	}
	w.clock.set(w.clock.now().Add(time.Hour))
	if _, err := w.rules.Resume(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		e := w.enrollment(r.EnrollmentID)
		want := w.clock.now().Add(time.Duration(i) * flows.ResumeStagger)
		if e.NextSendAt == nil || !e.NextSendAt.Equal(want) || e.ScheduleSeq != 2 {
			t.Fatalf("enrollment %d: %+v, want %s", i, e, want)
		}
		w.run(e)
	}
	if len(w.mail.messages()) != 3 {
		t.Fatalf("after resume %d sent", len(w.mail.messages()))
	}
	// One held enrollment sends nothing until it resumes.
	one := w.enroll(f.ID, w.candidate("Di", "di@example.com").ID)[0].EnrollmentID
	if _, err := w.rules.PauseEnrollment(t.Context(), w.owner, one); err != nil {
		t.Fatal(err)
	}
	w.run(w.enrollment(one))
	if len(w.mail.messages()) != 3 {
		t.Fatal("a paused enrollment sent")
	}
	if e, err := w.rules.ResumeEnrollment(t.Context(), w.owner, one); err != nil || e.Status != store.EnrollmentActive {
		t.Fatalf("resume enrollment %+v %v", e, err)
	}
	w.run(w.enrollment(one))
	if len(w.mail.messages()) != 4 {
		t.Fatal("a resumed enrollment did not send")
	}
}

// A deleted candidate's enrollment stops at its next step and goes with
// the candidate when it is purged.
func TestDeletedCandidateStopsAndIsPurged(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada", "ada@example.com")
	e := w.enrollment(w.enroll(f.ID, ada.ID)[0].EnrollmentID)
	if _, err := w.st.DeleteCandidate(t.Context(), w.org, ada.ID); err != nil {
		t.Fatal(err)
	}
	w.run(e)
	if got := w.enrollment(e.ID); got.Status != store.EnrollmentStopped || got.StopReason != store.StopRemoved || len(w.mail.messages()) != 0 {
		t.Fatalf("after deletion %+v", got)
	}
	n, err := w.st.PurgeDeletedCandidates(t.Context(), time.Now().Add(time.Hour), 10, func(context.Context, pgx.Tx, []string) error { return nil })
	if err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
	if _, err := w.st.Enrollment(t.Context(), w.org, e.ID); err == nil {
		t.Fatal("the enrollment outlived its candidate")
	}
}

// TestStepsDueTogetherShareTheirChecks: steps run at the same moment
// are checked in shared statements and recorded in shared ones; each
// still gets its own answer: the ones that may go are handed to mailbox
// once each, a replied, an undeliverable and a deleted candidate's stop
// with their reasons, and running every step again sends nothing more.
func TestStepsDueTogetherShareTheirChecks(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 30 {
		ids = append(ids, w.candidate(fmt.Sprintf("Candidate %d", i), fmt.Sprintf("c%d@example.com", i)).ID)
	}
	rs := w.enroll(f.ID, ids...)
	var es []store.Enrollment
	for _, r := range rs {
		es = append(es, w.enrollment(r.EnrollmentID))
	}
	replied, bounced, deleted := es[3], es[11], es[20]
	if _, err := w.pool.Exec(t.Context(), `UPDATE enrollments SET replied_at = now() WHERE id = $1`, replied.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.st.InTx(t.Context(), func(tx pgx.Tx) error {
		return store.MarkUndeliverable(t.Context(), tx, w.org, "c11@example.com", "test")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.DeleteCandidate(t.Context(), w.org, deleted.CandidateID); err != nil {
		t.Fatal(err)
	}
	runAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(es))
		for i, e := range es {
			wg.Go(func() {
				errs[i] = w.rules.RunStep(t.Context(), flows.StepArgs{OrgID: w.org, EnrollmentID: e.ID, Step: e.NextStep, Seq: e.ScheduleSeq})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	runAll()
	runAll()
	if n, calls := len(w.mail.messages()), w.mail.count(); n != len(es)-3 || calls != len(es)-3 {
		t.Fatalf("%d messages from %d calls, want %d", n, calls, len(es)-3)
	}
	stopped := map[string]string{replied.ID: store.StopReplied, bounced.ID: store.StopUndeliverable, deleted.ID: store.StopRemoved}
	for i, e := range es {
		got := w.enrollment(e.ID)
		if reason, ok := stopped[e.ID]; ok {
			if got.Status != store.EnrollmentStopped || got.StopReason != reason {
				t.Errorf("enrollment %d: %s %q, want stopped %q", i, got.Status, got.StopReason, reason)
			}
			continue
		}
		if got.Status != store.EnrollmentActive || got.SubmittedStep != 0 || got.SubmittedMessageID == "" || got.ToAddress != fmt.Sprintf("c%d@example.com", i) {
			t.Errorf("enrollment %d after the hand-off: %+v", i, got)
		}
	}
}
