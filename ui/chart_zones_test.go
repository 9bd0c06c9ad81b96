package ui

import (
	"math"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on a machine without a zoneinfo database

	"usepod.ai/agent/core/ledger"
)

// The chart and the rate follow local clock hours in zones off UTC by half
// and three quarters of an hour and across DST changes, as the ledger's
// buckets do.
func TestChartAndRateInEveryZone(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		return loc
	}
	ny := load("America/New_York")
	cases := []struct {
		name string
		now  time.Time
	}{
		{"UTC", time.Date(2026, 5, 1, 14, 50, 0, 0, time.UTC)},
		{"Kolkata early in the hour", time.Date(2026, 5, 1, 14, 10, 0, 0, load("Asia/Kolkata"))},
		{"Kolkata late in the hour", time.Date(2026, 5, 1, 14, 50, 0, 0, load("Asia/Kolkata"))},
		{"Kathmandu late in the hour", time.Date(2026, 5, 1, 14, 50, 0, 0, load("Asia/Kathmandu"))},
		{"Kathmandu early in the hour", time.Date(2026, 5, 1, 14, 5, 0, 0, load("Asia/Kathmandu"))},
		{"New York after spring forward", time.Date(2026, 3, 8, 3, 40, 0, 0, ny)},
		{"New York in the repeated hour", time.Date(2026, 11, 1, 6, 40, 0, 0, time.UTC).In(ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			cur := ledger.HourStart(now)
			hourly := make([]ledger.HourBucket, 24) // as ledger.Hourly lays them out
			for i := range hourly {
				hourly[i].Start = ledger.HourStart(cur.Add(time.Duration(i-23) * time.Hour))
			}
			hourly[23].Micro = 1000
			hourly[22].Micro = 6000
			hourly[0].Micro = 3

			series := hourlySeries(hourly, now)
			if series[23] != 1000 || series[22] != 6000 || series[0] != 3 {
				t.Errorf("series ends %v, starts %d; want [... 6000 1000], 3", series[20:], series[0])
			}
			share := 1 - float64(now.Sub(cur))/float64(time.Hour)
			want := int64(math.Round(1000 + 6000*share))
			if got := ratePerHour(hourly, now); got != want {
				t.Errorf("ratePerHour = %d, want %d (the current hour plus %.2f of the previous)", got, want, share)
			}
		})
	}
}
