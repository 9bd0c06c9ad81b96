// Package schedule reads earning windows ("mon-fri 22:00-07:00") and tells
// whether a moment of local time falls in one. Config validation and the
// earning policy share it.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is one earning window: the days it starts on and its start and end
// as minutes after local midnight. End <= Start means it crosses midnight
// and ends the next day ("22:00-07:00").
type Window struct {
	Days       [7]bool // by time.Weekday: Days[time.Sunday] ...
	Start, End int     // 0..1440
}

// Schedule is the union of its windows; an empty Schedule is always open.
type Schedule []Window

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse reads windows such as "mon-fri 22:00-07:00",
// "sat,sun 00:00-24:00", "daily 09:00-17:00" or just "09:00-17:00" (every
// day). Day ranges may wrap ("fri-mon").
func Parse(windows []string) (Schedule, error) {
	s := make(Schedule, 0, len(windows))
	for _, w := range windows {
		win, err := ParseWindow(w)
		if err != nil {
			return nil, err
		}
		s = append(s, win)
	}
	return s, nil
}

// ParseWindow reads one window; see Parse.
func ParseWindow(text string) (Window, error) {
	var w Window
	fields := strings.Fields(strings.ToLower(text))
	var days, hours string
	switch len(fields) {
	case 1:
		days, hours = "daily", fields[0]
	case 2:
		days, hours = fields[0], fields[1]
	default:
		return w, fmt.Errorf("%q: write a window as days and hours, e.g. \"mon-fri 22:00-07:00\"", text)
	}
	if err := parseDays(days, &w.Days); err != nil {
		return w, fmt.Errorf("%q: %w", text, err)
	}
	from, to, ok := strings.Cut(hours, "-")
	if !ok {
		return w, fmt.Errorf("%q: hours must be a range such as 22:00-07:00", text)
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return w, fmt.Errorf("%q: %w", text, err)
	}
	if w.End, err = parseClock(to, true); err != nil {
		return w, fmt.Errorf("%q: %w", text, err)
	}
	if w.Start == w.End {
		return w, fmt.Errorf("%q: the window starts and ends at the same time; use 00:00-24:00 for a whole day", text)
	}
	return w, nil
}

func parseDays(s string, days *[7]bool) error {
	if s == "daily" || s == "every" || s == "all" {
		for i := range days {
			days[i] = true
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[a]
		if !ok {
			return fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun or daily)", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[b]; !ok {
				return fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun or daily)", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

// parseClock reads "HH:MM" as minutes after midnight; "24:00" only as an end.
func parseClock(s string, isEnd bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !isEnd)) {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM, 00:00 to 24:00)", s)
	}
	return hh*60 + mm, nil
}

// Open reports whether t, read on the wall clock of its location (the
// user's local time), falls in a window. Wall-clock reading is what makes
// windows survive daylight-saving changes.
func (s Schedule) Open(t time.Time) bool {
	if len(s) == 0 {
		return true
	}
	wd := t.Weekday()
	mins := t.Hour()*60 + t.Minute()
	prev := (wd + 6) % 7
	for _, w := range s {
		if w.Start < w.End {
			if w.Days[wd] && mins >= w.Start && mins < w.End {
				return true
			}
			continue
		}
		// Crosses midnight: the evening part today, the morning part of a
		// window that started yesterday.
		if (w.Days[wd] && mins >= w.Start) || (w.Days[prev] && mins < w.End) {
			return true
		}
	}
	return false
}

// NextOpen is the first moment after t when the schedule opens, in t's
// location; zero when it never does (an empty schedule is always open, so
// it returns t).
func (s Schedule) NextOpen(t time.Time) time.Time {
	if s.Open(t) {
		return t
	}
	var best time.Time
	y, m, d := t.Date()
	for off := 0; off <= 7; off++ {
		for _, w := range s {
			day := time.Date(y, m, d+off, 0, 0, 0, 0, t.Location())
			if !w.Days[day.Weekday()] {
				continue
			}
			// time.Date normalises a start that falls in a skipped DST hour.
			start := time.Date(y, m, d+off, w.Start/60, w.Start%60, 0, 0, t.Location())
			if start.After(t) && (best.IsZero() || start.Before(best)) {
				best = start
			}
		}
	}
	return best
}
