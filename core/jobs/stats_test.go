package jobs

import (
	"testing"
	"time"
)

func TestStatsFigures(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var s Stats
	if f := s.Figures(now); f != (Figures{}) {
		t.Fatalf("empty stats = %+v", f)
	}
	// Ten good jobs of 100..1000 ms with 50 output tokens each, long ago.
	for i := 1; i <= 10; i++ {
		s.add(outcome{at: now.Add(-time.Hour), duration: time.Duration(i) * 100 * time.Millisecond, output: 50})
	}
	// In the last minute: one good job and one error.
	s.add(outcome{at: now.Add(-10 * time.Second), duration: 200 * time.Millisecond, output: 50})
	s.add(outcome{at: now.Add(-5 * time.Second), errCode: "backend_timeout", duration: 3 * time.Second})
	f := s.Figures(now)
	if f.ErrorRate60s != 0.5 {
		t.Errorf("error rate = %v, want 0.5 (1 of 2 in the last minute)", f.ErrorRate60s)
	}
	if f.LastErrorCode != "backend_timeout" || !f.LastErrorAt.Equal(now.Add(-5*time.Second)) {
		t.Errorf("last error = %q at %v", f.LastErrorCode, f.LastErrorAt)
	}
	// Durations: 100..1000 ms, 200 ms, 3000 ms: 12 values; nearest-rank p50 = 6th = 500 ms, p95 = 12th = 3000 ms.
	if f.P50LatencyMs != 500 || f.P95LatencyMs != 3000 {
		t.Errorf("p50/p95 = %d/%d ms, want 500/3000", f.P50LatencyMs, f.P95LatencyMs)
	}
	// Rates: 50 tokens over 0.1..1 s and 0.2 s; median of 11 sorted rates.
	if f.TokensPerSecP50 < 83 || f.TokensPerSecP50 > 125.1 {
		t.Errorf("tokens/s p50 = %v", f.TokensPerSecP50)
	}
}

func TestStatsWindowKeepsTheNewest(t *testing.T) {
	now := time.Now()
	var s Stats
	for i := 0; i < statsWindow; i++ {
		s.add(outcome{at: now, duration: time.Hour})
	}
	for i := 0; i < statsWindow; i++ {
		s.add(outcome{at: now, duration: time.Second})
	}
	if f := s.Figures(now); f.P95LatencyMs != 1000 {
		t.Fatalf("old outcomes still counted: p95 = %d ms", f.P95LatencyMs)
	}
}
