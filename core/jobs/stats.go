package jobs

import (
	"slices"
	"sync"
	"time"
)

// statsWindow is how many finished jobs the percentiles look at.
const statsWindow = 200

// Stats keeps the recent job outcomes the heartbeat reports
// (docs/protocol.md section 4). Safe for concurrent use.
type Stats struct {
	mu      sync.Mutex // guards the fields below
	recent  []outcome  // ring of the last statsWindow finished jobs
	next    int
	lastErr outcome // zero until the first job_error
}

type outcome struct {
	at       time.Time
	duration time.Duration
	output   int64
	errCode  string // "" for job_done
}

// Figures are the heartbeat's numbers, apart from queue depth.
type Figures struct {
	TokensPerSecP50 float64
	P50LatencyMs    int64
	P95LatencyMs    int64
	ErrorRate60s    float64
	LastErrorAt     time.Time // zero when none
	LastErrorCode   string
}

func (s *Stats) add(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recent) < statsWindow {
		s.recent = append(s.recent, o)
	} else {
		s.recent[s.next] = o
		s.next = (s.next + 1) % statsWindow
	}
	if o.errCode != "" {
		s.lastErr = o
	}
}

// Figures computes the heartbeat figures as of now.
func (s *Stats) Figures(now time.Time) Figures {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f Figures
	var rates []float64
	var durations []time.Duration
	var inWindow, errsInWindow int
	for _, o := range s.recent {
		if o.duration > 0 {
			durations = append(durations, o.duration)
		}
		if o.errCode == "" && o.duration > 0 && o.output > 0 {
			rates = append(rates, float64(o.output)/o.duration.Seconds())
		}
		if now.Sub(o.at) <= time.Minute {
			inWindow++
			if o.errCode != "" {
				errsInWindow++
			}
		}
	}
	if len(rates) > 0 {
		slices.Sort(rates)
		f.TokensPerSecP50 = rates[len(rates)/2]
	}
	if len(durations) > 0 {
		slices.Sort(durations)
		f.P50LatencyMs = percentile(durations, 50).Milliseconds()
		f.P95LatencyMs = percentile(durations, 95).Milliseconds()
	}
	if inWindow > 0 {
		f.ErrorRate60s = float64(errsInWindow) / float64(inWindow)
	}
	f.LastErrorAt, f.LastErrorCode = s.lastErr.at, s.lastErr.errCode
	return f
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
