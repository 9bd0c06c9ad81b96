package schedule

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed
)

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"", "mon-fri", "someday 09:00-17:00", "mon 9-17", "mon 25:00-26:00", "mon 09:00-09:00", "mon 24:00-02:00", "mon 09:60-10:00", "a b c"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}

func TestOpen(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 2026-11-27 is a Friday.
	for _, tc := range []struct {
		windows []string
		at      string
		open    bool
		next    string // "" when open
	}{
		{nil, "2026-11-27 12:00", true, ""},
		{[]string{"mon-fri 22:00-07:00"}, "2026-11-27 12:00", false, "2026-11-27 22:00"},
		{[]string{"mon-fri 22:00-07:00"}, "2026-11-27 23:30", true, ""},
		{[]string{"mon-fri 22:00-07:00"}, "2026-11-28 06:59", true, ""}, // Friday's window runs into Saturday
		{[]string{"mon-fri 22:00-07:00"}, "2026-11-28 07:00", false, "2026-11-30 22:00"},
		{[]string{"mon-fri 22:00-07:00"}, "2026-11-30 06:00", false, "2026-11-30 22:00"}, // Sunday night is not in it
		{[]string{"mon-fri 22:00-07:00", "sat-sun 00:00-24:00"}, "2026-11-29 23:59", true, ""},
		{[]string{"sat,sun 00:00-24:00"}, "2026-11-27 10:00", false, "2026-11-28 00:00"},
		{[]string{"fri-mon 09:00-17:00"}, "2026-11-30 10:00", true, ""},
		{[]string{"09:00-17:00"}, "2026-11-25 08:59", false, "2026-11-25 09:00"},
		// Daylight saving: on 2026-03-29 Berlin skips 02:00-03:00. A window
		// of wall-clock hours still starts and ends on the wall clock.
		{[]string{"daily 22:00-07:00"}, "2026-03-29 06:30", true, ""},
		{[]string{"daily 22:00-07:00"}, "2026-03-29 07:00", false, "2026-03-29 22:00"},
		{[]string{"daily 02:30-04:00"}, "2026-03-29 01:00", false, "2026-03-29 03:30"}, // 02:30 does not exist that day
		{[]string{"daily 22:00-07:00"}, "2026-10-25 06:59", true, ""},                  // the day with 25 hours
	} {
		s, err := Parse(tc.windows)
		if err != nil {
			t.Fatal(err)
		}
		now := at(tc.at)
		if got := s.Open(now); got != tc.open {
			t.Errorf("%v at %s: open = %v, want %v", tc.windows, tc.at, got, tc.open)
		}
		if tc.next != "" {
			if got := s.NextOpen(now); !got.Equal(at(tc.next)) {
				t.Errorf("%v at %s: next = %v, want %s", tc.windows, tc.at, got, tc.next)
			}
		}
	}
}
