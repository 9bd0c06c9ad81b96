package ledger

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on a machine without a zoneinfo database
)

// zoneCases are moments whose local clock hour is easy to get wrong: zones
// off UTC by half and three quarters of an hour, and both DST changes.
func zoneCases(t *testing.T) []struct {
	name string
	now  time.Time
} {
	t.Helper()
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		return loc
	}
	ny := load("America/New_York")
	return []struct {
		name string
		now  time.Time
	}{
		{"UTC", time.Date(2026, 5, 1, 14, 50, 0, 0, time.UTC)},
		{"Kolkata early in the hour", time.Date(2026, 5, 1, 14, 10, 0, 0, load("Asia/Kolkata"))},
		{"Kolkata late in the hour", time.Date(2026, 5, 1, 14, 50, 0, 0, load("Asia/Kolkata"))},
		{"Kathmandu", time.Date(2026, 5, 1, 14, 50, 0, 0, load("Asia/Kathmandu"))},
		{"Chatham (+12:45/+13:45)", time.Date(2026, 5, 1, 9, 5, 0, 0, load("Pacific/Chatham"))},
		{"New York after spring forward", time.Date(2026, 3, 8, 3, 40, 0, 0, ny)},
		// 1:40 happens twice on 1 November 2026; this is the second one (EST).
		{"New York in the repeated hour", time.Date(2026, 11, 1, 6, 40, 0, 0, time.UTC).In(ny)},
		{"New York in the first 1 a.m.", time.Date(2026, 11, 1, 5, 40, 0, 0, time.UTC).In(ny)},
	}
}

func TestHourlyFollowsLocalClockHoursInEveryZone(t *testing.T) {
	for _, tc := range zoneCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			l := openTemp(t)
			recordBatch(t, l, []Entry{
				{At: now, JobID: "now", Model: "m", OutputTokens: 5, OutputPer1M: 1e6},
				{At: now.Add(-time.Hour), JobID: "hour-ago", Model: "m", OutputTokens: 7, OutputPer1M: 1e6},
			})
			h, err := l.Hourly(t.Context(), now, 24)
			if err != nil {
				t.Fatal(err)
			}
			last := h[len(h)-1]
			if now.Before(last.Start) || !now.Before(last.Start.Add(time.Hour)) {
				t.Fatalf("the last bucket starts %v; now %v is not in it", last.Start, now)
			}
			for i, b := range h {
				local := b.Start.In(now.Location())
				if local.Minute() != 0 || local.Second() != 0 {
					t.Errorf("bucket %d starts at %v, not on a local clock hour", i, local)
				}
				if i > 0 && !b.Start.After(h[i-1].Start) {
					t.Errorf("bucket %d starts %v, not after bucket %d's %v", i, b.Start, i-1, h[i-1].Start)
				}
			}
			if last.Micro != 5 {
				t.Errorf("the current hour holds %d micro, want 5 (the job at now)", last.Micro)
			}
			if prev := h[len(h)-2]; prev.Micro != 7 {
				t.Errorf("the previous hour (%v) holds %d micro, want 7 (the job an hour ago); buckets %v", prev.Start, prev.Micro, fmt.Sprint(h[20:]))
			}
		})
	}
}

func TestHourStart(t *testing.T) {
	for _, tc := range zoneCases(t) {
		got := HourStart(tc.now)
		if got.After(tc.now) || tc.now.Sub(got) >= time.Hour || got.Minute() != 0 || got.Second() != 0 || got.Nanosecond() != 0 {
			t.Errorf("%s: HourStart(%v) = %v", tc.name, tc.now, got)
		}
		if got.Location() != tc.now.Location() {
			t.Errorf("%s: HourStart changed the location to %v", tc.name, got.Location())
		}
	}
}
