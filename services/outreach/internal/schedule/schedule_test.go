package schedule

import (
	"errors"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func local(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNext(t *testing.T) {
	berlin, ny := mustLoc(t, "Europe/Berlin"), mustLoc(t, "America/New_York")
	weekdays := Weekdays0818
	everyDay := Window{Days: [7]bool{true, true, true, true, true, true, true}, Start: 0, End: 24 * 60}
	night := Window{Days: everyDay.Days, Start: 2*60 + 30, End: 4 * 60}
	xmas := map[Date]bool{{2026, 12, 25}: true, {2026, 12, 28}: true}
	cases := []struct {
		name     string
		loc      *time.Location
		window   Window
		holidays map[Date]bool
		prev     string
		delay    Delay
		want     string // local, in loc
	}{
		{"inside the window: at once", berlin, weekdays, nil, "2026-03-10 09:15", Delay{Hours, 0}, "2026-03-10 09:15"},
		{"before the window: today's opening", berlin, weekdays, nil, "2026-03-10 06:00", Delay{Hours, 0}, "2026-03-10 08:00"},
		{"window starts later today", berlin, Window{Days: weekdays.Days, Start: 14 * 60, End: 16 * 60}, nil, "2026-03-10 10:00", Delay{Hours, 1}, "2026-03-10 14:00"},
		{"after the window: next day's opening", berlin, weekdays, nil, "2026-03-10 18:00", Delay{Hours, 0}, "2026-03-11 08:00"},
		{"friday evening: monday", berlin, weekdays, nil, "2026-03-13 17:30", Delay{Hours, 1}, "2026-03-16 08:00"},
		{"hours within the day", ny, weekdays, nil, "2026-03-10 09:00", Delay{Hours, 3}, "2026-03-10 12:00"},
		{"days keep the time of day", berlin, weekdays, nil, "2026-03-10 09:00", Delay{Days, 2}, "2026-03-12 09:00"},
		{"days landing on a weekend wait for monday", berlin, weekdays, nil, "2026-03-12 09:00", Delay{Days, 2}, "2026-03-16 08:00"},
		{"business days skip the weekend", berlin, weekdays, nil, "2026-03-12 09:00", Delay{BusinessDays, 2}, "2026-03-16 09:00"},
		{"business days skip holidays", berlin, weekdays, xmas, "2026-12-24 10:00", Delay{BusinessDays, 1}, "2026-12-29 10:00"},
		{"a holiday is skipped by the window", berlin, weekdays, xmas, "2026-12-24 17:59", Delay{Hours, 1}, "2026-12-29 08:00"},
		{"zero business days: now, fitted", berlin, weekdays, nil, "2026-03-14 09:00", Delay{BusinessDays, 0}, "2026-03-16 08:00"},
		// Europe/Berlin springs forward on 2026-03-29 (02:00 -> 03:00) and
		// falls back on 2026-10-25 (03:00 -> 02:00).
		{"berlin spring: a day keeps 09:00", berlin, everyDay, nil, "2026-03-28 09:00", Delay{Days, 1}, "2026-03-29 09:00"},
		{"berlin spring: 24 hours is 10:00", berlin, everyDay, nil, "2026-03-28 09:00", Delay{Hours, 24}, "2026-03-29 10:00"},
		{"berlin autumn: a day keeps 09:00", berlin, everyDay, nil, "2026-10-24 09:00", Delay{Days, 1}, "2026-10-25 09:00"},
		{"berlin autumn: 24 hours is 08:00", berlin, everyDay, nil, "2026-10-24 09:00", Delay{Hours, 24}, "2026-10-25 08:00"},
		{"berlin spring: a window opening the clocks skip opens at the jump", berlin, night, nil, "2026-03-29 00:30", Delay{Hours, 0}, "2026-03-29 03:00"},
		{"berlin weekdays across the change", berlin, weekdays, nil, "2026-03-27 17:00", Delay{BusinessDays, 1}, "2026-03-30 17:00"},
		// America/New_York springs forward on 2026-03-08 and falls back on
		// 2026-11-01.
		{"new york spring: a day keeps 08:30", ny, everyDay, nil, "2026-03-07 08:30", Delay{Days, 1}, "2026-03-08 08:30"},
		{"new york spring: 24 hours is 09:30", ny, everyDay, nil, "2026-03-07 08:30", Delay{Hours, 24}, "2026-03-08 09:30"},
		{"new york autumn: 24 hours is 07:30", ny, everyDay, nil, "2026-10-31 08:30", Delay{Hours, 24}, "2026-11-01 07:30"},
		{"new york autumn weekday window after the change", ny, weekdays, nil, "2026-10-30 17:30", Delay{Hours, 1}, "2026-11-02 08:00"},
		{"end of day 24:00 window", berlin, Window{Days: weekdays.Days, Start: 20 * 60, End: 24 * 60}, nil, "2026-03-10 23:59", Delay{Hours, 0}, "2026-03-10 23:59"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Calendar{Loc: tc.loc, Window: tc.window, Holidays: tc.holidays}
			got, err := c.Next(local(t, tc.loc, tc.prev), tc.delay)
			if err != nil {
				t.Fatal(err)
			}
			want := local(t, tc.loc, tc.want)
			if !got.Equal(want) {
				t.Fatalf("got %s, want %s", got.In(tc.loc), want)
			}
			if !c.Inside(got) {
				t.Fatalf("%s is outside the window", got.In(tc.loc))
			}
		})
	}
}

func TestFitAcrossZones(t *testing.T) {
	// The same instant fits differently by the flow's zone: 07:30 UTC is
	// 08:30 in Berlin (inside) and 03:30 in New York (before the window).
	at := time.Date(2026, 3, 10, 7, 30, 0, 0, time.UTC)
	berlin := Calendar{Loc: mustLoc(t, "Europe/Berlin"), Window: Weekdays0818}
	ny := Calendar{Loc: mustLoc(t, "America/New_York"), Window: Weekdays0818}
	if got, err := berlin.Fit(at); err != nil || !got.Equal(at) {
		t.Fatalf("berlin: %s", got)
	}
	if got, err := ny.Fit(at); err != nil || !got.Equal(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("new york: %s", got)
	}
}

func TestNoOpening(t *testing.T) {
	c := Calendar{Loc: time.UTC, Window: Window{Start: 60, End: 120}}
	if _, err := c.Fit(time.Now()); err == nil {
		t.Fatal("a window without days was accepted")
	}
	all := map[Date]bool{}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3*366; i++ {
		all[dateOf(start.AddDate(0, 0, i))] = true
	}
	c = Calendar{Loc: time.UTC, Window: Weekdays0818, Holidays: all}
	if _, err := c.Fit(start); !errors.Is(err, ErrNoOpening) {
		t.Fatalf("want ErrNoOpening, got %v", err)
	}
}

func TestValidateAndParse(t *testing.T) {
	for _, w := range []Window{{Days: Weekdays0818.Days, Start: 600, End: 600}, {Days: Weekdays0818.Days, Start: 600, End: 1441}} {
		if (Calendar{Loc: time.UTC, Window: w}).Validate() == nil {
			t.Fatalf("window %+v accepted", w)
		}
	}
	for s, want := range map[string]int{"00:00": 0, "08:30": 510, "24:00": 1440} {
		if got, err := ParseClock(s); err != nil || got != want {
			t.Fatalf("ParseClock(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"8:30", "24:30", "12:60", "ab:cd", ""} {
		if _, err := ParseClock(s); err == nil {
			t.Fatalf("ParseClock(%q) accepted", s)
		}
	}
	if FormatClock(510) != "08:30" {
		t.Fatal(FormatClock(510))
	}
	if d, err := ParseDate("2026-12-25"); err != nil || d.String() != "2026-12-25" {
		t.Fatal(d, err)
	}
	if _, err := ParseDate("2026-13-01"); err == nil {
		t.Fatal("bad date accepted")
	}
}

func TestNegativeDelay(t *testing.T) {
	c := Calendar{Loc: time.UTC, Window: Weekdays0818}
	if _, err := c.Next(time.Now(), Delay{Days, -1}); err == nil {
		t.Fatal("negative delay accepted")
	}
	if _, err := c.Next(time.Now(), Delay{Unit(9), 1}); err == nil {
		t.Fatal("unknown unit accepted")
	}
}
