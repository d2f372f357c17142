package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
)

// dstZone picks a time zone whose clocks change within the year ahead
// and where it is now between 05:00 and 21:59 (so that a window from an
// hour ago to two hours on is one day's and clear of the change's
// night); it returns the zone and the first instant after the change.
func dstZone(t *testing.T, now time.Time) (*time.Location, time.Time) {
	t.Helper()
	for _, name := range []string{"America/New_York", "Europe/Berlin", "America/Los_Angeles", "Australia/Sydney"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		if h := now.In(loc).Hour(); h < 5 || h > 21 {
			continue
		}
		if change, ok := nextZoneChange(loc, now); ok {
			return loc, change
		}
	}
	t.Fatal("no zone with a daylight-saving change ahead where it is daytime")
	return nil, time.Time{}
}

// nextZoneChange finds, to the hour, the first instant after from at
// which loc's offset differs from its offset at from, within a year.
func nextZoneChange(loc *time.Location, from time.Time) (time.Time, bool) {
	_, off := from.In(loc).Zone()
	for at := from.Truncate(time.Hour).Add(time.Hour); at.Before(from.AddDate(1, 0, 0)); at = at.Add(time.Hour) {
		if _, o := at.In(loc).Zone(); o != off {
			return at, true
		}
	}
	return time.Time{}, false
}

// OUT-1 across a daylight-saving change, through the gateway, mailbox and
// the Graph simulator. A flow in a zone whose clocks change within the
// year sends its first step now, inside its window in local time; its
// follow-up waits a number of days that crosses the change, and is
// scheduled at the same local time of day, inside the window, on the
// other side of the change (so its UTC time moved by the change). A
// second flow whose window is 09:00-10:00 schedules a step due after the
// change at 09:00 local, at the new offset. The steps after the change
// are checked on the schedule outreach keeps (the enrollment's next send
// time, which its step job is due at): outreach runs on the real clock,
// so the test cannot wait months for them to leave.
func TestScenario_OUT_1_DaylightSaving(t *testing.T) {
	w := newFlowWorld(t)
	loc, change := dstZone(t, time.Now())
	now := time.Now().In(loc)
	start, end := fmt.Sprintf("%02d:00", now.Hour()-1), fmt.Sprintf("%02d:00", now.Hour()+2)
	// Days until the first local midnight after the change, plus one: the
	// follow-up's day is the day after the change's.
	days := 1
	for d := now; !d.After(change); d = d.AddDate(0, 0, 1) {
		days++
	}
	all := []outreachv1.Weekday{outreachv1.Weekday_WEEKDAY_MONDAY, outreachv1.Weekday_WEEKDAY_TUESDAY, outreachv1.Weekday_WEEKDAY_WEDNESDAY,
		outreachv1.Weekday_WEEKDAY_THURSDAY, outreachv1.Weekday_WEEKDAY_FRIDAY, outreachv1.Weekday_WEEKDAY_SATURDAY, outreachv1.Weekday_WEEKDAY_SUNDAY}
	newFlow := func(name, from, to string, steps ...*outreachv1.FlowStep) string {
		t.Helper()
		created := &outreachv1.CreateFlowResponse{}
		w.api.must("POST", "/v1/flows", &outreachv1.Flow{
			Name:     name,
			Sender:   &outreachv1.FlowSender{MailboxConnectionId: w.conn, DisplayName: "Adele Vance", Email: contosoUser},
			TimeZone: loc.String(),
			Window:   &outreachv1.SendingWindow{Days: all, StartTime: from, EndTime: to},
			Steps:    steps,
		}, created)
		id := created.GetFlow().GetId()
		w.api.must("POST", "/v1/flows/"+id+":activate", &outreachv1.ActivateFlowRequest{}, &outreachv1.ActivateFlowResponse{})
		return id
	}
	enroll := func(flowID, candidateID string) string {
		t.Helper()
		enrolled := &outreachv1.EnrollCandidatesResponse{}
		w.api.must("POST", "/v1/flows/"+flowID+"/enrollments:batchCreate", &outreachv1.EnrollCandidatesRequest{CandidateIds: []string{candidateID}}, enrolled)
		if r := enrolled.GetResults()[0]; r.GetOutcome() != outreachv1.EnrollOutcome_ENROLL_OUTCOME_ENROLLED {
			t.Fatalf("enroll %v", r)
		}
		return enrolled.GetResults()[0].GetEnrollmentId()
	}
	inside := func(at time.Time, from, to string) bool {
		hm := at.In(loc).Format("15:04")
		return hm >= from && hm < to
	}

	// The first step leaves now, inside the window, before the change.
	across := newFlow("Across the change", start, end,
		&outreachv1.FlowStep{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_HOURS, Subject: "Hello {{ candidate.first_name }}", Body: "<p>Hi</p>"},
		&outreachv1.FlowStep{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_DAYS, Delay: int32(days), Subject: "Following up", Body: "<p>Any thoughts?</p>"})
	const address = "grace.hopper@navy.example"
	first := enroll(across, w.candidate("Grace Hopper", address))
	w.waitStepsSent(first, 1)
	if got := w.inbox(address); len(got) != 1 || got[0].Subject != "Hello Grace" {
		t.Fatalf("the candidate's inbox: %+v", got)
	}
	e := w.waitNextSend(first)
	sent, next := e.GetLastSentTime().AsTime(), e.GetNextSendTime().AsTime()
	if !inside(sent, start, end) {
		t.Fatalf("the first step left at %s, outside %s-%s in %s", sent.In(loc), start, end, loc)
	}
	_, offBefore := sent.In(loc).Zone()
	_, offAfter := next.In(loc).Zone()
	if !next.After(change) || offBefore == offAfter {
		t.Fatalf("the follow-up is due at %s, not after the change at %s", next.In(loc), change.In(loc))
	}
	t.Logf("%s changes at %s; first step sent %s, follow-up due %s", loc, change.In(loc), sent.In(loc), next.In(loc))
	// The same time of day on the wall clock, inside the window, after
	// the change: the UTC time moved by the change.
	if got, want := next.In(loc).Format("15:04:05"), sent.In(loc).Format("15:04:05"); got != want || !inside(next, start, end) {
		t.Fatalf("the follow-up is due at %s local, want %s local inside %s-%s (first step at %s)", next.In(loc), want, start, end, sent.In(loc))
	}
	if got, want := next.Sub(sent), time.Duration(days)*24*time.Hour-time.Duration(offAfter-offBefore)*time.Second; got != want {
		t.Fatalf("the follow-up is %s after the first step, want %s (%d days across a change of %ds)", got, want, days, offAfter-offBefore)
	}

	// 09:00 local on the day after the change, at the zone's new offset
	// (noon when it is nine now, so that the window is not open now).
	open := 9
	if now.Hour() == open {
		open = 12
	}
	from, to := fmt.Sprintf("%02d:00", open), fmt.Sprintf("%02d:00", open+1)
	nine := newFlow("Nine o'clock", from, to,
		&outreachv1.FlowStep{DelayUnit: outreachv1.DelayUnit_DELAY_UNIT_DAYS, Delay: int32(days), Subject: "Hello {{ candidate.first_name }}", Body: "<p>Hi</p>"})
	second := enroll(nine, w.candidate("Katherine Johnson", "katherine.johnson@nasa.example"))
	due := w.enrollment(second).GetNextSendTime().AsTime()
	l := due.In(loc)
	if l.Format("15:04:05") != from+":00" || !due.After(change) {
		t.Fatalf("the step is due at %s, want %s local after the change at %s", l, from, change.In(loc))
	}
	if want := time.Date(l.Year(), l.Month(), l.Day(), open, 0, 0, 0, time.FixedZone("after", offAfter)); !due.Equal(want) {
		t.Fatalf("the step is due at %s UTC, want %s UTC: %s at the offset after the change", due.UTC(), want.UTC(), from)
	}
}

// waitNextSend waits until the enrollment has a next send time and a
// last sent time, and returns it.
func (w *flowWorld) waitNextSend(id string) *outreachv1.Enrollment {
	w.t.Helper()
	var e *outreachv1.Enrollment
	poll.Until(w.t, 60*time.Second, func() error {
		if e = w.enrollment(id); e.GetNextSendTime() == nil || e.GetLastSentTime() == nil {
			return fmt.Errorf("no next send time: %v", e)
		}
		return nil
	})
	return e
}
