//go:build linux && !nogui

package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/desktoptest"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// What the always-on desktop process costs while nobody looks, measured the
// way a user meets it: the real binary in its own process, its tray
// registered with a StatusNotifierWatcher on a private session bus,
// connected to a coordinator, no jobs, no dashboard; CPU from the kernel's
// per-thread run times (/proc/PID/task/*/schedstat, nanoseconds) and memory
// from /proc/PID/status. Then the same with a job every 4 s, the time from
// the tray's "Open dashboard" to the dashboard's window on screen, and what
// the open, idle dashboard process costs.
//
// USEPOD_IDLE_SECONDS shortens the 60 s windows for a quick look.
func BenchmarkAlwaysOnDesktopProcess(b *testing.B) {
	window := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("USEPOD_IDLE_SECONDS")); err == nil && v > 0 {
		window = time.Duration(v) * time.Second
	}
	for range b.N {
		agent, replayBin := binaries(b)
		backend := startReplayBackend(b, replayBin)
		coord, coordURL := startCoordinator(b)
		bus := desktoptest.StartSessionBus(b)
		conn := desktoptest.ConnectBus(b, bus)
		watcher := desktoptest.ServeWatcher(b, conn)
		s := newDesktopSession(b, bus, backend)
		app := s.runApp(b, agent, coordURL)
		var reg desktoptest.Registration
		select {
		case reg = <-watcher.Registered:
		case <-time.After(desktopWait):
			b.Fatal("the app did not register its tray item")
		}
		p, _, _ := waitProvider(b, coord)
		app.waitOutput(b, stateIs("waiting for jobs"), "state=waiting for jobs")
		time.Sleep(2 * time.Second) // let start-up work settle

		pid := app.cmd.Process.Pid
		cpu, rss := measure(b, pid, window)
		b.ReportMetric(100*cpu.Seconds()/window.Seconds(), "%core-idle")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-idle")
		b.Logf("always-on, idle: %.4f %% of a core over %v (%v of CPU), %.1f MiB resident", 100*cpu.Seconds()/window.Seconds(), window, cpu, float64(rss)/(1<<20))

		// A job every 4 s.
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			tick := time.NewTicker(4 * time.Second)
			defer tick.Stop()
			for n := 0; ; n++ {
				jctx, jcancel := context.WithTimeout(ctx, 30*time.Second)
				p.Dispatch(jctx, localcoord.JobRequest{JobID: fmt.Sprintf("bench-%d", n), ModelID: "tiny", Request: map[string]any{
					"messages": []map[string]string{{"role": "user", "content": "Say hello in five words."}}, "max_tokens": 8,
				}})
				jcancel()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
		cpu, rss = measure(b, pid, window)
		cancel()
		b.ReportMetric(100*cpu.Seconds()/window.Seconds(), "%core-job/4s")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-job/4s")
		b.Logf("always-on, a job every 4 s: %.4f %% of a core, %.1f MiB resident", 100*cpu.Seconds()/window.Seconds(), float64(rss)/(1<<20))

		// Open the dashboard from the tray and time it to the window.
		menu := desktoptest.Menu(b, conn, reg)
		items, _, err := desktoptest.ReadMenu(menu)
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		desktoptest.Click(b, menu, desktoptest.FindLabel(items, "Open dashboard"))
		waitWindow(b, s.display, "Use Pod Agent")
		opened := time.Since(began)
		b.ReportMetric(float64(opened.Milliseconds()), "ms-to-dashboard")
		b.Logf("tray's Open dashboard to the window on screen: %v", opened)

		dashPID := dashboardPID(b, app.out.String())
		time.Sleep(3 * time.Second) // its first frames and readings
		cpu, rss = measure(b, dashPID, window)
		b.ReportMetric(100*cpu.Seconds()/window.Seconds(), "%core-dashboard")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-dashboard")
		b.Logf("dashboard open and idle: %.2f %% of a core, %.1f MiB resident", 100*cpu.Seconds()/window.Seconds(), float64(rss)/(1<<20))
		cpu, rss = measure(b, pid, window/2)
		b.Logf("always-on while the dashboard is open: %.4f %% of a core, %.1f MiB resident", 100*cpu.Seconds()/(window/2).Seconds(), float64(rss)/(1<<20))
	}
}

// measure returns the CPU the process used during d and its resident
// memory at the end.
func measure(b *testing.B, pid int, d time.Duration) (time.Duration, int64) {
	b.Helper()
	before := cpuTime(b, pid)
	time.Sleep(d)
	after := cpuTime(b, pid)
	return after - before, rssBytes(b, pid)
}

// cpuTime sums the run time of every thread of pid.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("no threads of %d: %v", pid, err)
	}
	var total int64
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended between the glob and the read
		}
		ns, err := strconv.ParseInt(strings.Fields(string(raw))[0], 10, 64)
		if err == nil {
			total += ns
		}
	}
	return time.Duration(total)
}

var vmRSS = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

func rssBytes(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := vmRSS.FindSubmatch(raw)
	if m == nil {
		b.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

var dashboardOpened = regexp.MustCompile(`msg="dashboard opened" .*pid=(\d+)`)

func dashboardPID(b *testing.B, log string) int {
	b.Helper()
	m := dashboardOpened.FindStringSubmatch(log)
	if m == nil {
		b.Fatal("the app did not log the dashboard's pid")
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}
