package metrics

import (
	"math"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// TestProcessCollectorMatchesClientGolang reads the process metrics with
// ours and with client_golang's collector, one after the other, and
// expects the same series with nearly the same values.
func TestProcessCollectorMatchesClientGolang(t *testing.T) {
	ours := gather(t, newProcessCollector())
	theirs := gather(t, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, tol := range map[string]float64{
		"process_cpu_seconds_total":        0.5,
		"process_start_time_seconds":       1.5, // boot time is rounded to the second
		"process_max_fds":                  0,
		"process_virtual_memory_max_bytes": 0,
		"process_virtual_memory_bytes":     64 << 20,
		"process_resident_memory_bytes":    32 << 20,
		"process_open_fds":                 3,
	} {
		o, ok1 := ours[name]
		c, ok2 := theirs[name]
		if !ok1 || !ok2 {
			t.Errorf("%s: ours %v (%v), client_golang's %v (%v)", name, o, ok1, c, ok2)
			continue
		}
		if math.Abs(o-c) > tol {
			t.Errorf("%s = %v, client_golang says %v", name, o, c)
		}
	}
	if ours["process_resident_memory_bytes"] <= 0 || ours["process_open_fds"] < 3 {
		t.Errorf("implausible readings: %v", ours)
	}
}

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as proc(5) allows.
	line := "4242 (usepod (agent)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 125 0 0 20 0 12 0 777 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.utime != 250 || st.stime != 125 || st.starttime != 777 || st.vsize != 123456789 || st.rss != 2048 {
		t.Fatalf("parsed %+v", st)
	}
	for _, bad := range []string{"", "4242 no parens", "4242 (x) S 1 2"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = nil error", bad)
		}
	}
	if os.Getpagesize() <= 0 {
		t.Fatal("no page size")
	}
}

func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			out[mf.GetName()] = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			out[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}
