package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/outreach/internal/schedule"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/templates"
)

// Limits of a flow.
const (
	MaxNameLen     = 200
	MaxSteps       = 20
	MaxSubjectLen  = 255
	MaxBodyLen     = 100_000
	MaxDelayDays   = 365
	MaxDelayHours  = 365 * 24
	MaxHolidays    = 366
	MaxSenderLen   = 320
	DefaultZone    = "UTC"
	maxPageSize    = 200
	defaultPage    = 50
	MaxEnrollBatch = 1000
)

// Input is a flow as a request gives it; the server translates the proto.
type Input struct {
	Name   string
	Sender store.FlowVersion // MailboxConnectionID, SenderUserID, SenderName, SenderEmail
	// TimeZone "" is UTC: identity keeps no time zone of users or
	// organizations yet, so "the sender's" cannot be looked up (ADR 22).
	TimeZone string
	// Window nil: Monday to Friday, 08:00 to 18:00.
	Window   *WindowInput
	Holidays []string
	Steps    []store.FlowStep
	JobID    string
}

// WindowInput is a sending window as given: ISO weekdays and "HH:MM".
type WindowInput struct {
	Days       []int
	Start, End string
}

var allPaths = map[string]bool{"name": true, "sender": true, "time_zone": true, "window": true, "holidays": true, "steps": true, "job_id": true}

// apply checks the fields of in named by mask and returns cur with them.
func (f *Flows) apply(ctx context.Context, orgID, owner string, cur store.Flow, in Input, mask map[string]bool) (store.Flow, error) {
	next := cur
	v := &next.Current
	var err error
	if mask["name"] {
		if next.Name, err = validate.Text("flow.name", in.Name, MaxNameLen); err != nil {
			return store.Flow{}, err
		}
	}
	if mask["sender"] {
		s := in.Sender
		if s.MailboxConnectionID == "" {
			return store.Flow{}, apperr.InvalidArgument("flow.sender.mailbox_connection_id", "is required")
		}
		if len(s.MailboxConnectionID) > 200 {
			return store.Flow{}, apperr.InvalidArgument("flow.sender.mailbox_connection_id", "is not a connection id")
		}
		if s.SenderUserID == "" {
			s.SenderUserID = owner
		}
		if s.SenderUserID != owner {
			ok, err := f.store.HasDelegation(ctx, orgID, s.SenderUserID, owner)
			if err != nil {
				return store.Flow{}, err
			}
			if !ok {
				return store.Flow{}, apperr.InvalidArgument("flow.sender.user_id", "has not allowed the flow's owner to send on their behalf")
			}
		}
		if s.SenderName != "" {
			if s.SenderName, err = validate.Text("flow.sender.display_name", s.SenderName, MaxNameLen); err != nil {
				return store.Flow{}, err
			}
		}
		if s.SenderEmail != "" {
			if s.SenderEmail, err = validate.Text("flow.sender.email", s.SenderEmail, MaxSenderLen); err != nil {
				return store.Flow{}, err
			}
			if !strings.Contains(s.SenderEmail, "@") {
				return store.Flow{}, apperr.InvalidArgument("flow.sender.email", "must be an e-mail address")
			}
		}
		v.MailboxConnectionID, v.SenderUserID, v.SenderName, v.SenderEmail = s.MailboxConnectionID, s.SenderUserID, s.SenderName, s.SenderEmail
	}
	if mask["time_zone"] {
		tz := in.TimeZone
		if tz == "" {
			tz = DefaultZone
		}
		if tz == "Local" {
			return store.Flow{}, apperr.InvalidArgument("flow.time_zone", "must be an IANA time zone such as Europe/Berlin")
		}
		if _, err := time.LoadLocation(tz); err != nil {
			return store.Flow{}, apperr.InvalidArgument("flow.time_zone", "must be an IANA time zone such as Europe/Berlin")
		}
		v.TimeZone = tz
	}
	if mask["window"] {
		if err := applyWindow(v, in.Window); err != nil {
			return store.Flow{}, err
		}
	}
	if mask["holidays"] {
		if len(in.Holidays) > MaxHolidays {
			return store.Flow{}, apperr.InvalidArgument("flow.holidays", fmt.Sprintf("at most %d dates", MaxHolidays))
		}
		hs := make([]string, 0, len(in.Holidays))
		for i, h := range in.Holidays {
			d, err := schedule.ParseDate(h)
			if err != nil {
				return store.Flow{}, apperr.InvalidArgument(fmt.Sprintf("flow.holidays[%d]", i), "must be a date YYYY-MM-DD")
			}
			hs = append(hs, d.String())
		}
		slices.Sort(hs)
		v.Holidays = slices.Compact(hs)
	}
	if mask["steps"] {
		if v.Steps, err = f.checkSteps(ctx, orgID, in.Steps); err != nil {
			return store.Flow{}, err
		}
	}
	if mask["job_id"] {
		if in.JobID != "" && uuid.Validate(in.JobID) != nil {
			return store.Flow{}, apperr.InvalidArgument("flow.job_id", "is not a job id")
		}
		// Only a job the flow is newly linked to is checked: a flow keeps
		// its link when the ATS's side changes later.
		if in.JobID != "" && in.JobID != cur.Current.JobID && f.jobLinks != nil {
			if err := f.jobLinks.CheckJobLink(ctx, orgID, in.JobID); err != nil {
				return store.Flow{}, err
			}
		}
		v.JobID = in.JobID
	}
	cal, err := f.calendar(*v)
	if err != nil {
		return store.Flow{}, apperr.InvalidArgument("flow.time_zone", "must be an IANA time zone such as Europe/Berlin")
	}
	if _, err := cal.Fit(f.now()); err != nil {
		return store.Flow{}, apperr.InvalidArgument("flow.window", "the sending window never opens (its days are all holidays)")
	}
	return next, nil
}

func applyWindow(v *store.FlowVersion, w *WindowInput) error {
	if w == nil {
		v.WindowDays = []int{1, 2, 3, 4, 5}
		v.WindowStart, v.WindowEnd = schedule.Weekdays0818.Start, schedule.Weekdays0818.End
		return nil
	}
	if len(w.Days) == 0 {
		return apperr.InvalidArgument("flow.window.days", "name at least one day")
	}
	days := slices.Clone(w.Days)
	slices.Sort(days)
	for i, d := range days {
		if d < 1 || d > 7 {
			return apperr.InvalidArgument("flow.window.days", "must be days of the week")
		}
		if i > 0 && days[i-1] == d {
			return apperr.InvalidArgument("flow.window.days", "names a day twice")
		}
	}
	start, err := schedule.ParseClock(w.Start)
	if err != nil {
		return apperr.InvalidArgument("flow.window.start_time", "must be a time of day HH:MM")
	}
	end, err := schedule.ParseClock(w.End)
	if err != nil {
		return apperr.InvalidArgument("flow.window.end_time", "must be a time of day HH:MM")
	}
	if start >= end {
		return apperr.InvalidArgument("flow.window.end_time", "must be after start_time")
	}
	v.WindowDays, v.WindowStart, v.WindowEnd = days, start, end
	return nil
}

// fields are the variables the organization's templates may use.
func (f *Flows) fields(ctx context.Context, orgID string) (templates.Fields, error) {
	defs, err := f.store.FieldDefinitions(ctx, orgID)
	if err != nil {
		return templates.Fields{}, err
	}
	out := templates.Fields{Objects: templates.Standard}
	for _, d := range defs {
		out.CustomFields = append(out.CustomFields, d.Key)
	}
	return out, nil
}

// checkSteps checks every step; a template is refused naming the step,
// the line and the variable.
func (f *Flows) checkSteps(ctx context.Context, orgID string, steps []store.FlowStep) ([]store.FlowStep, error) {
	if len(steps) == 0 || len(steps) > MaxSteps {
		return nil, apperr.InvalidArgument("flow.steps", fmt.Sprintf("must be 1 to %d steps", MaxSteps))
	}
	fields, err := f.fields(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.FlowStep, len(steps))
	for i, s := range steps {
		at := func(field string) string { return fmt.Sprintf("flow.steps[%d].%s", i, field) }
		if _, ok := delayUnits[s.DelayUnit]; !ok {
			return nil, apperr.InvalidArgument(at("delay_unit"), "must be hours, days or business days")
		}
		limit := MaxDelayDays
		if s.DelayUnit == "hours" {
			limit = MaxDelayHours
		}
		if s.Delay < 0 || s.Delay > limit {
			return nil, apperr.InvalidArgument(at("delay"), fmt.Sprintf("must be 0 to %d", limit))
		}
		if s.Subject, err = validate.Text(at("subject"), s.Subject, MaxSubjectLen); err != nil {
			return nil, err
		}
		if strings.TrimSpace(s.Body) == "" {
			return nil, apperr.InvalidArgument(at("body"), "is required")
		}
		if !utf8.ValidString(s.Body) || strings.ContainsRune(s.Body, 0) {
			return nil, apperr.InvalidArgument(at("body"), "must be valid UTF-8 text")
		}
		if utf8.RuneCountInString(s.Body) > MaxBodyLen {
			return nil, apperr.InvalidArgument(at("body"), fmt.Sprintf("must be at most %d characters", MaxBodyLen))
		}
		for part, src := range map[string]string{"subject": s.Subject, "body": s.Body} {
			if err := f.templates.Check(src, fields); err != nil {
				return nil, templateError(i, part, err)
			}
		}
		if i == 0 {
			s.NewThread = true // the first step always starts the thread
		}
		out[i] = s
	}
	return out, nil
}

// templateError names the step, the part, the line and the variable, in
// the field and in metadata a client can point at.
func templateError(step int, part string, err error) error {
	var te *templates.Error
	if !errors.As(err, &te) {
		return err
	}
	msg := fmt.Sprintf("step %d: %s", step+1, te.Error())
	e := apperr.InvalidArgument(fmt.Sprintf("flow.steps[%d].%s", step, part), msg)
	e.Reason = "template_invalid"
	e.Metadata = map[string]string{"step_index": fmt.Sprint(step), "part": part, "line": fmt.Sprint(te.Line)}
	if te.Variable != "" {
		e.Metadata["variable"] = te.Variable
	}
	return e.Wrap(err)
}

func pageLimit(size int) (int, error) {
	switch {
	case size < 0 || size > maxPageSize:
		return 0, apperr.InvalidArgument("page_size", fmt.Sprintf("must be 1 to %d", maxPageSize))
	case size == 0:
		return defaultPage, nil
	}
	return size, nil
}
