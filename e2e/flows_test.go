package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// e2eFlow is a flow whose first step waits 30 days: nothing in this test
// falls due, so what it checks is the schedule, not the sending.
func e2eFlow() *outreachv1.Flow {
	return &outreachv1.Flow{
		Name:     "Staff engineers",
		Sender:   &outreachv1.FlowSender{MailboxConnectionId: "mailbox-of-megan", DisplayName: "Megan Bowen", Email: contosoAdmin},
		TimeZone: "Europe/Berlin",
		Window: &outreachv1.SendingWindow{StartTime: "08:00", EndTime: "18:00", Days: []outreachv1.Weekday{
			outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_TUESDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY,
			outreachv1.Weekday_WEEKDAY_THURSDAY, outreachv1.Weekday_WEEKDAY_FRIDAY}},
		Steps: []*outreachv1.FlowStep{
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_DAYS, Delay: 30, Subject: "Hello {{ candidate.first_name }}",
				Body: `<p>Hi {{ candidate.first_name | default: "there" }}, {{ sender.name }} here.</p>`},
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_BUSINESS_DAYS, Delay: 3, Subject: "Following up", Body: "<p>Any thoughts?</p>"},
		},
	}
}

// OUT-2: the flow lifecycle through the gateway. Draft (nothing
// scheduled), Active, Paused, Completed, Archived; editing an active flow
// makes a new version and enrolled candidates keep theirs; templates with
// an unknown variable are refused naming the step and the variable; a
// Member cannot activate or edit another's flow; another organization
// sees none of it.
func TestScenario_OUT_2(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	recruiter, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})

	newCandidate := func(name, email string) string {
		t.Helper()
		out := &outreachv1.CreateCandidateResponse{}
		recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: name, Emails: []string{email}}, out)
		return out.GetCandidate().GetId()
	}
	ada, bob := newCandidate("Ada Lovelace", "ada@engines.example"), newCandidate("Bob Babbage", "bob@engines.example")

	// An unknown variable is refused, naming the step, the line and the variable.
	bad := e2eFlow()
	bad.Steps[1].Body = "<p>Hi\n{{ candidate.nickname }}</p>"
	code, body := recruiterAPI.call("POST", "/v1/flows", bad, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `"field":"flow.steps[1].body"`) || !strings.Contains(string(body), `candidate.nickname`) ||
		!strings.Contains(string(body), "line 2") {
		t.Fatalf("the refusal should name the step, line and variable: %s", body)
	}

	created := &outreachv1.CreateFlowResponse{}
	recruiterAPI.must("POST", "/v1/flows", e2eFlow(), created)
	flow := created.GetFlow()
	if flow.GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_DRAFT || flow.GetVersion() != 1 || flow.GetOwnerUserId() != recruiter.GetUser().GetId() {
		t.Fatalf("created %v", flow)
	}
	base := "/v1/flows/" + flow.GetId()

	// Enrolled in a Draft: nothing is scheduled.
	enrolled := &outreachv1.EnrollCandidatesResponse{}
	recruiterAPI.must("POST", base+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{ada}}, enrolled)
	adaEnrollment := enrolled.GetResults()[0].GetEnrollmentId()
	if enrolled.GetResults()[0].GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_ENROLLED {
		t.Fatalf("enroll %v", enrolled)
	}
	enrollment := func(id string) *outreachv1.Enrollment {
		t.Helper()
		out := &outreachv1.GetEnrollmentResponse{}
		ownerAPI.must("GET", "/v1/enrollments/"+id, nil, out)
		return out.GetEnrollment()
	}
	if e := enrollment(adaEnrollment); e.GetNextSendTime() != nil || e.GetFlowVersion() != 1 {
		t.Fatalf("a Draft scheduled %v", e)
	}

	// Activated: Ada's first step is scheduled, in the window, 30 days on.
	recruiterAPI.must("POST", base+":activate", &outreachv1.ActivateFlowRequest{}, &outreachv1.ActivateFlowResponse{})
	e := enrollment(adaEnrollment)
	if e.GetNextSendTime() == nil || e.GetStatus() != outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_ACTIVE {
		t.Fatalf("activation scheduled nothing: %v", e)
	}
	if h := e.GetNextSendTime().AsTime().In(berlin(t)); h.Hour() < 8 || h.Hour() >= 18 || h.Weekday() == 0 || h.Weekday() == 6 {
		t.Fatalf("scheduled outside the window: %s", h)
	}

	// Editing the active flow makes version 2; Ada keeps 1, Bob gets 2.
	edit := e2eFlow()
	edit.Steps[1].Subject = "Still interested, {{ candidate.first_name }}?"
	updated := &outreachv1.UpdateFlowResponse{}
	recruiterAPI.must("PATCH", base+"?updateMask=steps", edit, updated)
	if updated.GetFlow().GetVersion() != 2 || updated.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_ACTIVE {
		t.Fatalf("edit %v", updated.GetFlow())
	}
	recruiterAPI.must("POST", base+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{bob, ada}}, enrolled)
	bobEnrollment := enrolled.GetResults()[0].GetEnrollmentId()
	if enrolled.GetResults()[1].GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_ALREADY_ENROLLED {
		t.Fatalf("enroll again %v", enrolled)
	}
	if enrollment(adaEnrollment).GetFlowVersion() != 1 || enrollment(bobEnrollment).GetFlowVersion() != 2 {
		t.Fatal("enrolled candidates did not keep their versions")
	}
	v1 := &outreachv1.GetFlowVersionResponse{}
	ownerAPI.must("GET", base+"/versions/1", nil, v1)
	if v1.GetFlow().GetSteps()[1].GetSubject() != "Following up" {
		t.Fatalf("version 1 %v", v1.GetFlow())
	}
	preview := &outreachv1.PreviewFlowStepResponse{}
	ownerAPI.must("POST", base+":previewStep", &outreachv1.PreviewFlowStepRequest{StepIndex: 1, CandidateId: bob}, preview)
	if preview.GetSubject() != "Still interested, Bob?" {
		t.Fatalf("preview %v", preview)
	}

	// The Super Admin's own flow: a Recruiter cannot touch it, and neither
	// can a Member.
	theirs := &outreachv1.CreateFlowResponse{}
	ownerAPI.must("POST", "/v1/flows", e2eFlow(), theirs)
	code, body = recruiterAPI.call("POST", "/v1/flows/"+theirs.GetFlow().GetId()+":activate", &outreachv1.ActivateFlowRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	ownerAPI.must("PATCH", "/v1/users/"+recruiter.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_MEMBER}, &identityv1.UpdateUserResponse{})
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	code, body = memberAPI.call("POST", "/v1/flows/"+theirs.GetFlow().GetId()+":activate", &outreachv1.ActivateFlowRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	code, body = memberAPI.call("PATCH", "/v1/flows/"+theirs.GetFlow().GetId()+"?updateMask=name", &outreachv1.Flow{Name: "Mine now"}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	memberAPI.must("GET", base, nil, &outreachv1.GetFlowResponse{})

	// Paused, then resumed, by an Admin and above (the owner is a Member now).
	got := &outreachv1.PauseFlowResponse{}
	ownerAPI.must("POST", base+":pause", &outreachv1.PauseFlowRequest{}, got)
	if got.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_PAUSED {
		t.Fatalf("pause %v", got.GetFlow())
	}
	code, body = ownerAPI.call("POST", base+":archive", &outreachv1.ArchiveFlowRequest{}, nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")
	ownerAPI.must("POST", base+":resume", &outreachv1.ResumeFlowRequest{}, &outreachv1.ResumeFlowResponse{})

	// Completing asks for confirmation, then stops every enrollment.
	code, body = ownerAPI.call("POST", base+":complete", &outreachv1.CompleteFlowRequest{}, nil)
	wantError(t, code, body, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(body), `"field":"confirm"`) {
		t.Fatalf("the refusal should name confirm: %s", body)
	}
	completed := &outreachv1.CompleteFlowResponse{}
	ownerAPI.must("POST", base+":complete", &outreachv1.CompleteFlowRequest{Confirm: true}, completed)
	if completed.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_COMPLETED {
		t.Fatalf("complete %v", completed.GetFlow())
	}
	for _, id := range []string{adaEnrollment, bobEnrollment} {
		if e := enrollment(id); e.GetStatus() != outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_STOPPED ||
			e.GetStopReason() != outreachv1.StopReason_STOP_REASON_FLOW_COMPLETED || e.GetStepsSent() != 0 || e.GetNextSendTime() != nil {
			t.Fatalf("after completion %v", e)
		}
	}
	stats := &outreachv1.GetFlowStatsResponse{}
	ownerAPI.must("GET", base+"/stats", nil, stats)
	if stats.GetStats().GetEnrolled() != 2 || stats.GetStats().GetSent() != 0 {
		t.Fatalf("stats %v", stats.GetStats())
	}
	ownerAPI.must("POST", base+":archive", &outreachv1.ArchiveFlowRequest{}, &outreachv1.ArchiveFlowResponse{})
	listed := &outreachv1.ListFlowsResponse{}
	ownerAPI.must("GET", "/v1/flows", nil, listed)
	if len(listed.GetFlows()) != 1 || listed.GetFlows()[0].GetId() != theirs.GetFlow().GetId() {
		t.Fatalf("archived flows are listed: %v", listed)
	}

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = otherAPI.call("GET", "/v1/flows/"+theirs.GetFlow().GetId(), nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("POST", "/v1/flows/"+theirs.GetFlow().GetId()+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{ada}}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("GET", "/v1/enrollments/"+adaEnrollment, nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	// Nor can it enroll Contoso's candidate in a flow of its own: the
	// candidate is not found there, and nothing is enrolled.
	own := &outreachv1.CreateFlowResponse{}
	otherAPI.must("POST", "/v1/flows", e2eFlow(), own)
	foreign := &outreachv1.EnrollCandidatesResponse{}
	otherAPI.must("POST", "/v1/flows/"+own.GetFlow().GetId()+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{ada}}, foreign)
	if r := foreign.GetResults(); len(r) != 1 || r[0].GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_NOT_FOUND || r[0].GetEnrollmentId() != "" {
		t.Fatalf("another organization's candidate: %v", foreign)
	}
	ownStats := &outreachv1.GetFlowStatsResponse{}
	otherAPI.must("GET", "/v1/flows/"+own.GetFlow().GetId()+"/stats", nil, ownStats)
	if ownStats.GetStats().GetEnrolled() != 0 {
		t.Fatalf("another organization's candidate was enrolled: %v", ownStats.GetStats())
	}
}

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// windowZone picks a time zone where it is now between 02:00 and 21:59,
// so that a window from an hour ago to two hours on is one day's: the
// test then checks that steps leave inside a window that is not UTC's.
func windowZone(t *testing.T) (*time.Location, string, string) {
	t.Helper()
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", "Australia/Sydney"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		if h := time.Now().In(loc).Hour(); h >= 2 && h <= 21 {
			return loc, fmt.Sprintf("%02d:00", h-1), fmt.Sprintf("%02d:00", h+2)
		}
	}
	t.Fatal("no zone where it is daytime")
	return nil, "", ""
}

// OUT-1, MB-2, the flow half of MB-3 and OUT-7, through the gateway,
// mailbox and the Graph simulator: a recruiter with a connected mailbox
// builds a flow of three steps (templates with fallbacks, a window in
// another time zone), activates it and enrolls a candidate. The first
// e-mail leaves inside the window and moves the candidate to Contacted;
// the follow-up is a reply in the same thread (In-Reply-To); the
// candidate's reply stops the third step and moves them to Replied; the
// flow's figures say so.
func TestScenario_OUT_1(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	ctl := sim(t, s)
	recruiterAPI, conn := connectedMailbox(t, s, contosoUser)
	// mailbox hears of the connection through identity's event.
	poll.Until(t, 30*time.Second, func() error {
		if code, body := recruiterAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, nil); code != http.StatusOK {
			return fmt.Errorf("mailbox health %d %s", code, body)
		}
		return nil
	})
	const address = "ada.lovelace@engines.example"
	cand := &outreachv1.CreateCandidateResponse{}
	recruiterAPI.must("POST", "/v1/candidates", &outreachv1.Candidate{Name: "Ada Lovelace", Emails: []string{address}, Company: ""}, cand)
	ada := cand.GetCandidate().GetId()

	loc, start, end := windowZone(t)
	all := []outreachv1.Weekday{outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_TUESDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY,
		outreachv1.Weekday_WEEKDAY_THURSDAY, outreachv1.Weekday_WEEKDAY_FRIDAY, outreachv1.Weekday_WEEKDAY_SATURDAY, outreachv1.Weekday_WEEKDAY_SUNDAY}
	created := &outreachv1.CreateFlowResponse{}
	recruiterAPI.must("POST", "/v1/flows", &outreachv1.Flow{
		Name:     "Analytical engineers",
		Sender:   &outreachv1.FlowSender{MailboxConnectionId: conn.GetId(), DisplayName: "Adele Vance", Email: contosoUser},
		TimeZone: loc.String(),
		Window:   &outreachv1.SendingWindow{Days: all, StartTime: start, EndTime: end},
		Steps: []*outreachv1.FlowStep{
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "A role at Contoso, {{ candidate.first_name }}",
				Body: `<p>Hi {{ candidate.first_name }}, {{ sender.first_name }} here about {{ candidate.company | default: "your work" }}.</p>`},
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Following up", Body: "<p>Any thoughts, {{ candidate.first_name }}?</p>"},
			{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_DAYS, Delay: 1, Subject: "Last note", Body: "<p>Closing the loop.</p>"},
		},
	}, created)
	flowID := created.GetFlow().GetId()
	recruiterAPI.must("POST", "/v1/flows/"+flowID+":activate", &outreachv1.ActivateFlowRequest{}, &outreachv1.ActivateFlowResponse{})
	enrolled := &outreachv1.EnrollCandidatesResponse{}
	recruiterAPI.must("POST", "/v1/flows/"+flowID+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{ada}}, enrolled)
	enrollmentID := enrolled.GetResults()[0].GetEnrollmentId()
	enrollment := func() *outreachv1.Enrollment {
		t.Helper()
		out := &outreachv1.GetEnrollmentResponse{}
		recruiterAPI.must("GET", "/v1/enrollments/"+enrollmentID, nil, out)
		return out.GetEnrollment()
	}

	// Both steps leave, the second once the first is sent; the third waits
	// a day.
	poll.Until(t, 90*time.Second, func() error {
		if e := enrollment(); e.GetStepsSent() != 2 || e.GetNextSendTime() == nil {
			return fmt.Errorf("enrollment %v", e)
		}
		return nil
	})
	e := enrollment()
	if sent := e.GetLastSentTime().AsTime().In(loc); sent.Format("15:04") < start || sent.Format("15:04") >= end {
		t.Fatalf("sent at %s, outside %s-%s in %s", sent, start, end, loc)
	}
	if next := e.GetNextSendTime().AsTime(); next.Before(e.GetLastSentTime().AsTime().Add(23 * time.Hour)) {
		t.Fatalf("the third step is due at %s, a day after %s", next, e.GetLastSentTime().AsTime())
	}
	inbox, err := ctl.Messages(t.Context(), address, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 2 {
		t.Fatalf("the candidate got %d messages, want 2: %+v", len(inbox), inbox)
	}
	first, follow := inbox[0], inbox[1]
	if first.ReceivedAt.After(follow.ReceivedAt) {
		first, follow = follow, first
	}
	if first.Subject != "A role at Contoso, Ada" || !strings.Contains(first.Body, "Hi Ada, Adele here about your work.") {
		t.Fatalf("first e-mail %q %q", first.Subject, first.Body)
	}
	// MB-2: the follow-up answers the first in its thread.
	if follow.HeaderValue("In-Reply-To") != first.InternetMessageID || follow.ConversationID != first.ConversationID ||
		!strings.HasPrefix(follow.Subject, "RE: ") || !strings.Contains(follow.Body, "Any thoughts, Ada?") {
		t.Fatalf("the follow-up is not a reply in the thread: In-Reply-To %q (first %q), conversation %q/%q, subject %q",
			follow.HeaderValue("In-Reply-To"), first.InternetMessageID, follow.ConversationID, first.ConversationID, follow.Subject)
	}
	stageName := func() string {
		t.Helper()
		c := &outreachv1.GetCandidateResponse{}
		recruiterAPI.must("GET", "/v1/candidates/"+ada, nil, c)
		stages := &outreachv1.ListStagesResponse{}
		recruiterAPI.must("GET", "/v1/stages", nil, stages)
		for _, st := range stages.GetStages() {
			if st.GetId() == c.GetCandidate().GetStageId() {
				return st.GetName()
			}
		}
		return ""
	}
	if got := stageName(); got != "Contacted" {
		t.Fatalf("after the first e-mail the candidate is %q", got)
	}

	// MB-3, the flow's half: the candidate answers; the third step never
	// leaves and the candidate is Replied.
	if _, err := ctl.Reply(t.Context(), simclient.Reply{From: address, InternetMessageID: follow.InternetMessageID, Body: "Happy to talk."}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, func() error {
		if e := enrollment(); e.GetStatus() != outreachv1.EnrollmentStatus_ENROLLMENT_STATUS_STOPPED || e.GetStopReason() != outreachv1.StopReason_STOP_REASON_REPLIED {
			return fmt.Errorf("enrollment %v", e)
		}
		return nil
	})
	if e := enrollment(); e.GetNextSendTime() != nil || e.GetStepsSent() != 2 {
		t.Fatalf("after the reply %v", e)
	}
	poll.Until(t, 30*time.Second, func() error {
		if got := stageName(); got != "Replied" {
			return fmt.Errorf("stage %q", got)
		}
		return nil
	})

	// OUT-7: the figures, per flow and per step.
	stats := &outreachv1.GetFlowStatsResponse{}
	recruiterAPI.must("GET", "/v1/flows/"+flowID+"/stats", nil, stats)
	st := stats.GetStats()
	if st.GetEnrolled() != 1 || st.GetContacted() != 1 || st.GetSent() != 2 || st.GetReplied() != 1 || st.GetReplyRate() != 1 ||
		st.GetBounced() != 0 || st.GetOpensKnown() || len(st.GetSteps()) != 2 || st.GetSteps()[1].GetReplied() != 1 || st.GetSteps()[0].GetSent() != 1 {
		t.Fatalf("figures %v", st)
	}
	// The flow finished with its only enrollment.
	got := &outreachv1.GetFlowResponse{}
	recruiterAPI.must("GET", "/v1/flows/"+flowID, nil, got)
	if got.GetFlow().GetStatus() != outreachv1.FlowStatus_FLOW_STATUS_COMPLETED {
		t.Fatalf("flow %v", got.GetFlow())
	}
}

// outreach gets SIGKILL while 500 first steps are due; after its restart
// every step was handed to mailbox exactly once: mailbox holds one message
// per enrollment key, and the simulator's Sent Items one copy of each.
func TestFaults_FlowStepsSurviveKill(t *testing.T) {
	const n = 500
	s := stack.Start(t, binDir, stack.Options{Env: []string{
		"TANDEM_MESSAGES_PER_MINUTE=5000", "TANDEM_MAILBOX_MIN_GAP=0s",
		// A killed replica's running jobs are taken again after this.
		"TANDEM_STUCK_JOB_RESCUE_AFTER=40s", "TANDEM_SEND_JOB_TIMEOUT=30s",
	}})
	ctx := t.Context()
	ctl := sim(t, s)
	if _, err := ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: 5000}); err != nil {
		t.Fatal(err)
	}
	recruiterAPI, conn := connectedMailbox(t, s, contosoUser)
	poll.Until(t, 30*time.Second, func() error {
		if code, body := recruiterAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, nil); code != http.StatusOK {
			return fmt.Errorf("mailbox health %d %s", code, body)
		}
		return nil
	})
	batch := &outreachv1.BatchCreateCandidatesRequest{}
	for i := range n {
		batch.Candidates = append(batch.Candidates, &outreachv1.Candidate{Name: fmt.Sprintf("Candidate %d", i), Emails: []string{fmt.Sprintf("c%d@kill.example", i)}})
	}
	created := &outreachv1.BatchCreateCandidatesResponse{}
	recruiterAPI.must("POST", "/v1/candidates:batchCreate", batch, created)
	enroll := &outreachv1.EnrollCandidatesRequest{}
	for _, r := range created.GetResults() {
		enroll.CandidateIds = append(enroll.CandidateIds, r.GetCandidateId())
	}
	every := []outreachv1.Weekday{outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_TUESDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY,
		outreachv1.Weekday_WEEKDAY_THURSDAY, outreachv1.Weekday_WEEKDAY_FRIDAY, outreachv1.Weekday_WEEKDAY_SATURDAY, outreachv1.Weekday_WEEKDAY_SUNDAY}
	flow := &outreachv1.CreateFlowResponse{}
	recruiterAPI.must("POST", "/v1/flows", &outreachv1.Flow{
		Name: "Kill test", Sender: &outreachv1.FlowSender{MailboxConnectionId: conn.GetId()}, TimeZone: "UTC",
		Window: &outreachv1.SendingWindow{Days: every, StartTime: "00:00", EndTime: "24:00"},
		Steps:  []*outreachv1.FlowStep{{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Hello {{ candidate.name }}", Body: "<p>Hi</p>"}},
	}, flow)
	base := "/v1/flows/" + flow.GetFlow().GetId()
	// Enrolled in the Draft, all due the moment it is activated.
	enrolled := &outreachv1.EnrollCandidatesResponse{}
	recruiterAPI.must("POST", base+"/enrollments:batchCreate", enroll, enrolled)
	recruiterAPI.must("POST", base+":activate", &outreachv1.ActivateFlowRequest{}, &outreachv1.ActivateFlowResponse{})

	mb := mailboxClient(t, s, "mailbox")
	keys := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		token := ""
		for {
			c, cancel := context.WithTimeout(asOutreach(ctx, s), 10*time.Second)
			page, err := mb.ListMessages(c, &mailboxv1.ListMessagesRequest{OrganizationId: conn.GetOrganizationId(), MailboxId: conn.GetId(), PageSize: 200, PageToken: token})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.GetMessages() {
				out[m.GetIdempotencyKey()]++
			}
			if token = page.GetNextPageToken(); token == "" {
				return out
			}
		}
	}
	// Killed in the middle of handing the steps over.
	poll.Until(t, 60*time.Second, func() error {
		if k := len(keys()); k < 20 {
			return fmt.Errorf("%d handed over", k)
		}
		return nil
	})
	if _, err := s.Procs["outreach"].Signal(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	atKill := len(keys())
	s.Procs["outreach"].Start()
	t.Logf("%d of %d steps were with mailbox when outreach was killed", atKill, n)

	poll.Until(t, 4*time.Minute, func() error {
		if k := len(keys()); k != n {
			return fmt.Errorf("%d of %d handed over", k, n)
		}
		return nil
	})
	for k, c := range keys() {
		if c != 1 || !strings.HasPrefix(k, "flowstep:") {
			t.Errorf("key %s: %d messages", k, c)
		}
	}
	// Every step reached the simulator once, and outreach counted each
	// send once.
	var sentItems map[string]int
	poll.Until(t, 3*time.Minute, func() error {
		if sentItems = copiesByMarker(t, ctl, contosoUser, "sentitems"); len(sentItems) < n {
			return fmt.Errorf("%d of %d in Sent Items", len(sentItems), n)
		}
		return nil
	})
	for id, c := range sentItems {
		if c != 1 {
			t.Errorf("message %s is %d times in Sent Items", id, c)
		}
	}
	if len(sentItems) != n {
		t.Errorf("%d messages in Sent Items, want %d", len(sentItems), n)
	}
	poll.Until(t, 60*time.Second, func() error {
		st := &outreachv1.GetFlowStatsResponse{}
		recruiterAPI.must("GET", base+"/stats", nil, st)
		if got := st.GetStats().GetSent(); got != n {
			return fmt.Errorf("outreach counted %d sent, the simulator has %d", got, n)
		}
		return nil
	})
}
