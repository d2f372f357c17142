package e2e

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim/simclient"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
)

// flowWorld is a recruiter with a connected mailbox that mailbox knows,
// ready to run flows through the gateway.
type flowWorld struct {
	t    *testing.T
	s    *stack.Stack
	ctl  *simclient.Client
	api  api
	conn string
}

func newFlowWorld(t *testing.T) *flowWorld {
	t.Helper()
	s := stack.Start(t, binDir, stack.Options{})
	userAPI, conn := connectedMailbox(t, s, contosoUser)
	poll.Until(t, 30*time.Second, func() error {
		if code, body := userAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, nil); code != http.StatusOK {
			return fmt.Errorf("mailbox health %d %s", code, body)
		}
		return nil
	})
	return &flowWorld{t: t, s: s, ctl: sim(t, s), api: userAPI, conn: conn.GetId()}
}

func (w *flowWorld) candidate(name, address string) string {
	w.t.Helper()
	out := &outreachv1.CreateCandidateResponse{}
	w.api.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: name, Emails: []string{address}}, out)
	return out.GetCandidate().GetId()
}

// activeFlow creates and activates a flow of steps sent at any hour of
// any day, and enrolls the candidates; it returns the flow and each
// candidate's enrollment.
func (w *flowWorld) activeFlow(steps []*outreachv1.FlowStep, candidates ...string) (string, []string) {
	w.t.Helper()
	all := []outreachv1.Weekday{outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_TUESDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY,
		outreachv1.Weekday_WEEKDAY_THURSDAY, outreachv1.Weekday_WEEKDAY_FRIDAY, outreachv1.Weekday_WEEKDAY_SATURDAY, outreachv1.Weekday_WEEKDAY_SUNDAY}
	created := &outreachv1.CreateFlowResponse{}
	w.api.must("POST", "/v1/flows", &outreachv1.Flow{
		Name:     "Compiler engineers",
		Sender:   &outreachv1.FlowSender{MailboxConnectionId: w.conn, DisplayName: "Adele Vance", Email: contosoUser},
		TimeZone: "UTC",
		Window:   &outreachv1.SendingWindow{Days: all, StartTime: "00:00", EndTime: "23:59"},
		Steps:    steps,
	}, created)
	flowID := created.GetFlow().GetId()
	w.api.must("POST", "/v1/flows/"+flowID+":activate", &outreachv1.ActivateFlowRequest{}, &outreachv1.ActivateFlowResponse{})
	enrolled := &outreachv1.EnrollCandidatesResponse{}
	w.api.must("POST", "/v1/flows/"+flowID+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: candidates}, enrolled)
	var ids []string
	for _, r := range enrolled.GetResults() {
		if r.GetEnrollmentId() == "" {
			w.t.Fatalf("not enrolled: %v", r)
		}
		ids = append(ids, r.GetEnrollmentId())
	}
	return flowID, ids
}

func (w *flowWorld) enrollment(id string) *outreachv1.Enrollment {
	w.t.Helper()
	out := &outreachv1.GetEnrollmentResponse{}
	w.api.must("GET", "/v1/enrollments/"+id, nil, out)
	return out.GetEnrollment()
}

func (w *flowWorld) waitStepsSent(id string, n int32) {
	w.t.Helper()
	poll.Until(w.t, 90*time.Second, func() error {
		if e := w.enrollment(id); e.GetStepsSent() < n {
			return fmt.Errorf("enrollment %v, waiting for %d steps sent", e, n)
		}
		return nil
	})
}

// inbox is what the simulator delivered to address, oldest first.
func (w *flowWorld) inbox(address string) []simclient.MailMessage {
	w.t.Helper()
	got, err := w.ctl.Messages(w.t.Context(), address, "inbox")
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		for j := i; j > 0 && got[j].ReceivedAt.Before(got[j-1].ReceivedAt); j-- {
			got[j], got[j-1] = got[j-1], got[j]
		}
	}
	return got
}

// MB-2: a follow-up step is sent as a reply in the candidate's thread
// (same conversation, In-Reply-To and References naming the message it
// answers); a step marked "new thread" starts one of its own.
func TestScenario_MB_2(t *testing.T) {
	w := newFlowWorld(t)
	const address = "grace.hopper@navy.example"
	grace := w.candidate("Grace Hopper", address)
	_, enrollments := w.activeFlow([]*outreachv1.FlowStep{
		{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Compilers at Contoso", Body: "<p>Hi {{ candidate.first_name }}</p>"},
		{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Following up", Body: "<p>Any thoughts?</p>"},
		{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Something else entirely", Body: "<p>A new topic</p>", NewThread: true},
	}, grace)
	w.waitStepsSent(enrollments[0], 3)

	inbox := w.inbox(address)
	if len(inbox) != 3 {
		t.Fatalf("the candidate got %d messages, want 3: %+v", len(inbox), inbox)
	}
	first, follow, fresh := inbox[0], inbox[1], inbox[2]
	if follow.HeaderValue("In-Reply-To") != first.InternetMessageID || follow.ConversationID != first.ConversationID {
		t.Fatalf("the follow-up is not a reply in the thread: In-Reply-To %q (first %q), conversation %q (first %q)",
			follow.HeaderValue("In-Reply-To"), first.InternetMessageID, follow.ConversationID, first.ConversationID)
	}
	if refs := follow.HeaderValue("References"); refs == "" || !slices.Contains(strings.Fields(refs), first.InternetMessageID) {
		t.Fatalf("the follow-up's References %q do not name %q", refs, first.InternetMessageID)
	}
	if fresh.HeaderValue("In-Reply-To") != "" || fresh.ConversationID == first.ConversationID || fresh.Subject != "Something else entirely" {
		t.Fatalf("the new-thread step replied: In-Reply-To %q, conversation %q, subject %q", fresh.HeaderValue("In-Reply-To"), fresh.ConversationID, fresh.Subject)
	}
	// The sender's Sent Items hold the three, once each.
	sent, err := w.ctl.Messages(t.Context(), contosoUser, "sentitems")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range sent {
		seen[m.InternetMessageID]++
	}
	for _, m := range inbox {
		if seen[m.InternetMessageID] != 1 {
			t.Fatalf("%s is %d times in Sent Items", m.InternetMessageID, seen[m.InternetMessageID])
		}
	}
}

// OUT-7: per-flow figures, kept as things happen: three candidates get the
// first step; one replies, one's address bounces, one is moved to
// Interested by the recruiter; the figures count each, per flow and per
// step, with their rates over the candidates contacted.
func TestScenario_OUT_7(t *testing.T) {
	w := newFlowWorld(t)
	const replier, bouncer, keen = "ada@engines.example", "nobody@gone.example", "katherine@nasa.example"
	if err := w.ctl.SetUndeliverable(t.Context(), bouncer, "550 5.1.1 user unknown"); err != nil {
		t.Fatal(err)
	}
	ids := []string{w.candidate("Ada Lovelace", replier), w.candidate("No Body", bouncer), w.candidate("Katherine Johnson", keen)}
	flowID, enrollments := w.activeFlow([]*outreachv1.FlowStep{
		{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Hello {{ candidate.first_name }}", Body: "<p>Hi</p>"},
		{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_DAYS, Delay: 3, Subject: "Later", Body: "<p>Later</p>"},
	}, ids...)
	for _, e := range enrollments {
		w.waitStepsSent(e, 1)
	}

	// Ada answers; the bounce comes back by itself; Katherine is moved on.
	firstTo := func(address string) simclient.MailMessage {
		t.Helper()
		inbox := w.inbox(address)
		if len(inbox) != 1 {
			t.Fatalf("%s got %d messages, want 1", address, len(inbox))
		}
		return inbox[0]
	}
	if _, err := w.ctl.Reply(t.Context(), simclient.Reply{From: replier, InternetMessageID: firstTo(replier).InternetMessageID, Body: "Tell me more"}); err != nil {
		t.Fatal(err)
	}
	stages := &outreachv1.ListStagesResponse{}
	w.api.must("GET", "/v1/stages", nil, stages)
	var interested string
	for _, st := range stages.GetStages() {
		if st.GetName() == "Interested" {
			interested = st.GetId()
		}
	}
	w.api.must("POST", "/v1/candidates/"+ids[2]+":moveStage", &outreachv1.MoveCandidateStageRequest{StageId: interested, Reason: "called back"}, &outreachv1.MoveCandidateStageResponse{})

	stats := &outreachv1.GetFlowStatsResponse{}
	poll.Until(t, 60*time.Second, func() error {
		w.api.must("GET", "/v1/flows/"+flowID+"/stats", nil, stats)
		if st := stats.GetStats(); st.GetReplied() != 1 || st.GetBounced() != 1 || st.GetInterested() != 1 {
			return fmt.Errorf("figures %v", st)
		}
		return nil
	})
	st := stats.GetStats()
	third := func(v float64) bool { return math.Abs(v-1.0/3) < 1e-9 }
	if st.GetEnrolled() != 3 || st.GetContacted() != 3 || st.GetSent() != 3 || st.GetOpensKnown() ||
		!third(st.GetReplyRate()) || !third(st.GetBounceRate()) || !third(st.GetInterestedRate()) {
		t.Fatalf("flow figures %v", st)
	}
	if len(st.GetSteps()) == 0 {
		t.Fatalf("no step figures: %v", st)
	}
	if s0 := st.GetSteps()[0]; s0.GetStepIndex() != 0 || s0.GetSent() != 3 || s0.GetReplied() != 1 || s0.GetBounced() != 1 || s0.GetInterested() != 1 {
		t.Fatalf("first step's figures %v", s0)
	}
	// The bounce and the reply stopped their enrollments; Katherine's
	// stopped when she moved past Replied.
	for i, want := range []outreachv1.StopReason{outreachv1.StopReason_STOP_REASON_REPLIED, outreachv1.StopReason_STOP_REASON_BOUNCED} {
		if e := w.enrollment(enrollments[i]); e.GetStatus() != outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_STOPPED || e.GetStopReason() != want {
			t.Fatalf("enrollment %d: %v, want stopped %v", i, e, want)
		}
	}
}
