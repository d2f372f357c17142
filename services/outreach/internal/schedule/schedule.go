// Package schedule computes when a flow's step may leave: a delay after
// the previous send (elapsed hours, calendar days or business days), then
// the first instant inside the sending window, in the flow's time zone,
// skipping holidays. It is pure: no clock, no I/O; daylight-saving changes
// come from the time zone database (the binary embeds it, time/tzdata).
package schedule

import (
	"errors"
	"fmt"
	"time"
)

// Unit is what a delay counts.
type Unit int

// Units of a delay.
const (
	// Hours are elapsed time: 24 hours across a DST change is 23 or 25 on
	// the wall clock.
	Hours Unit = iota + 1
	// Days keep the time of day: 09:00 plus one day is 09:00 the next day,
	// whatever the clocks did overnight.
	Days
	// BusinessDays count days of the window that are not holidays, each at
	// the same time of day.
	BusinessDays
)

// Delay is how long after the previous send a step waits.
type Delay struct {
	Unit  Unit
	Count int
}

// Date is a calendar day, without a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("not a date (YYYY-MM-DD): %q", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func dateOf(t time.Time) Date { return Date{t.Year(), t.Month(), t.Day()} }

// Window is when e-mails may leave: on Days, from Start to End minutes
// after local midnight (End exclusive; 1440 is midnight at the end).
type Window struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End int     // minutes since midnight
}

// Weekdays0818 is the default window: Monday to Friday, 08:00 to 18:00.
var Weekdays0818 = Window{Days: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true},
	Start: 8 * 60, End: 18 * 60}

// ParseClock reads "HH:MM" (00:00 to 24:00) as minutes since midnight.
func ParseClock(s string) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("not a time of day (HH:MM): %q", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("not a time of day (HH:MM): %q", s)
	}
	return h*60 + m, nil
}

// FormatClock writes minutes since midnight as "HH:MM".
func FormatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// Calendar is a flow's sending rules.
type Calendar struct {
	Loc      *time.Location
	Window   Window
	Holidays map[Date]bool
}

// ErrNoOpening is a calendar whose window never opens (no day, or every
// day a holiday) within the horizon searched.
var ErrNoOpening = errors.New("the sending window never opens")

// horizon bounds the search for an opening: two years covers any list of
// holidays a person would write.
const horizon = 2 * 366

// Validate checks the window's shape.
func (c Calendar) Validate() error {
	if c.Loc == nil {
		return errors.New("no time zone")
	}
	if c.Window.Start < 0 || c.Window.End > 24*60 || c.Window.Start >= c.Window.End {
		return errors.New("the window must start before it ends")
	}
	for _, d := range c.Window.Days {
		if d {
			return nil
		}
	}
	return errors.New("the window needs at least one day")
}

// sendingDay reports whether e-mails may leave on the day of local t.
func (c Calendar) sendingDay(t time.Time) bool {
	return c.Window.Days[t.Weekday()] && !c.Holidays[dateOf(t)]
}

// at is the instant of minutes-since-midnight min on local day d. A time
// the clocks skip (02:30 on a spring-forward night) is the instant the
// clock jumps to.
func (c Calendar) at(d time.Time, min int) time.Time {
	if min == 24*60 {
		return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, c.Loc)
	}
	t := time.Date(d.Year(), d.Month(), d.Day(), min/60, min%60, 0, 0, c.Loc)
	if t.Hour()*60+t.Minute() != min {
		// Go normalises a skipped wall time with the offset before the
		// change, which lands past the jump; the jump itself is the first
		// instant of the day at or after that time of day.
		return transitionBefore(t)
	}
	return t
}

// transitionBefore finds the zone change just before t (within 3 hours),
// to the second.
func transitionBefore(t time.Time) time.Time {
	// Zone changes fall on whole seconds: search those.
	lo, hi := t.Add(-3*time.Hour).Unix(), t.Unix()
	_, offLo := time.Unix(lo, 0).In(t.Location()).Zone()
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if _, off := time.Unix(mid, 0).In(t.Location()).Zone(); off == offLo {
			lo = mid
		} else {
			hi = mid
		}
	}
	return time.Unix(hi, 0).In(t.Location())
}

// Inside reports whether t is inside the window.
func (c Calendar) Inside(t time.Time) bool {
	lt := t.In(c.Loc)
	if !c.sendingDay(lt) {
		return false
	}
	return !t.Before(c.at(lt, c.Window.Start)) && t.Before(c.at(lt, c.Window.End))
}

// Fit returns t when it is inside the window, else the window's next
// opening after t.
func (c Calendar) Fit(t time.Time) (time.Time, error) {
	if err := c.Validate(); err != nil {
		return time.Time{}, err
	}
	day := t.In(c.Loc)
	for i := 0; i < horizon; i++ {
		if c.sendingDay(day) {
			open, closeAt := c.at(day, c.Window.Start), c.at(day, c.Window.End)
			if t.Before(open) {
				return open, nil
			}
			if t.Before(closeAt) {
				return t, nil
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc)
	}
	return time.Time{}, ErrNoOpening
}

// Next returns when a step with delay d may leave after the previous send
// (or the enrollment) at prev: the delay, then the window.
func (c Calendar) Next(prev time.Time, d Delay) (time.Time, error) {
	if d.Count < 0 {
		return time.Time{}, errors.New("negative delay")
	}
	lp := prev.In(c.Loc)
	var due time.Time
	switch d.Unit {
	case Hours:
		due = prev.Add(time.Duration(d.Count) * time.Hour)
	case Days:
		due = addDays(lp, d.Count)
	case BusinessDays:
		due = lp
		for n := 0; n < d.Count; {
			due = addDays(due, 1)
			if c.sendingDay(due) {
				n++
			}
			if due.Sub(lp) > horizon*24*time.Hour {
				return time.Time{}, ErrNoOpening
			}
		}
	default:
		return time.Time{}, fmt.Errorf("unknown delay unit %d", d.Unit)
	}
	return c.Fit(due)
}

// addDays moves local t by n calendar days, keeping its wall-clock time.
func addDays(t time.Time, n int) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day()+n, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
