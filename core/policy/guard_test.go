package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/policy/schedule"
	"usepod.ai/agent/core/telemetry"
)

var fixtures = filepath.Join("..", "..", "..", "shared", "fixtures", "real", "nvidia")

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorded returns the H200's readings: idle (first line of smi_load.csv)
// and under load (its last line), with the compute apps recorded alongside.
func recorded(t *testing.T) (idle, load telemetry.Sample) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(readFixture(t, "smi_load.csv"))), "\n")
	cols := []string{"index", "name", "uuid", "driver_version", "utilization.gpu", "utilization.memory", "memory.used", "memory.total", "temperature.gpu", "power.draw", "power.limit", "clocks.sm", "fan.speed", "pstate"}
	gpus := func(line string) []telemetry.GPU {
		g, err := telemetry.ParseSMICSVColumns([]byte(line), cols)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	procs := func(name string) []telemetry.GPUProcess {
		p, err := telemetry.ParseSMIApps(readFixture(t, name), telemetry.SMIAppColumns)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	idle = telemetry.Sample{GPUs: gpus(lines[0]), Procs: procs("smi_apps.csv"), ProcsOK: true}
	load = telemetry.Sample{GPUs: gpus(lines[len(lines)-1]), Procs: procs("smi_apps_load.csv"), ProcsOK: true}
	return idle, load
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday

func gpuOnly() Settings {
	return Settings{PauseWhenGPUBusy: true, ResumeAfter: 2 * time.Minute, MaxConcurrent: 8}
}

// step is one reading in a table test: at t0+at, the readings, and what
// the verdict must be.
type step struct {
	at     time.Duration
	r      Readings
	limit  int
	cause  Cause
	reason string // a part of the reason that must be there
}

func run(t *testing.T, g *Guard, s Settings, steps []step) {
	t.Helper()
	for i, st := range steps {
		v := g.Evaluate(s, st.r, t0.Add(st.at))
		if v.Limit != st.limit || v.Cause != st.cause || !strings.Contains(v.Reason, st.reason) {
			t.Errorf("step %d (+%v): verdict %+v, want limit %d cause %q reason containing %q", i, st.at, v, st.limit, st.cause, st.reason)
		}
		if v.Cause == CauseNone && v.Reason != "" || v.Cause != CauseNone && v.Reason == "" {
			t.Errorf("step %d: cause %q with reason %q", i, v.Cause, v.Reason)
		}
	}
}

func TestGPUBusyRecorded(t *testing.T) {
	idle, load := recorded(t)
	withGPU := func(s telemetry.Sample) Readings { return Readings{GPU: s, HasGPU: true} }
	run(t, NewGuard(), gpuOnly(), []step{
		{0, withGPU(idle), 8, CauseNone, ""},
		{5 * time.Second, withGPU(load), 0, CauseGPUBusy, "Paused while python3 uses the GPU — resumes 2 min after it closes"},
		{10 * time.Second, withGPU(load), 0, CauseGPUBusy, "python3"},
		{15 * time.Second, withGPU(idle), 0, CauseGPUBusy, "resumes at 12:02"}, // gone; 2 min after it was last seen
		{2*time.Minute + 9*time.Second, withGPU(idle), 0, CauseGPUBusy, "python3"},
		{2*time.Minute + 10*time.Second, withGPU(idle), 8, CauseNone, ""},
	})
}

func TestGPUBusyOwnServersAndSettings(t *testing.T) {
	_, load := recorded(t)
	// python3 (pid 422) is the vLLM server: its own use never counts.
	r := Readings{GPU: load, HasGPU: true, Servers: map[int]bool{422: true}}
	run(t, NewGuard(), gpuOnly(), []step{{0, r, 8, CauseNone, ""}})
	// The setting off: nothing pauses.
	off := gpuOnly()
	off.PauseWhenGPUBusy = false
	run(t, NewGuard(), off, []step{{0, Readings{GPU: load, HasGPU: true}, 8, CauseNone, ""}})
	// A source that cannot list processes says nothing about them.
	blind := load
	blind.ProcsOK = false
	run(t, NewGuard(), gpuOnly(), []step{{0, Readings{GPU: blind, HasGPU: true}, 8, CauseNone, ""}})
}

func TestForeign(t *testing.T) {
	procs := []telemetry.GPUProcess{
		{PID: 1, Name: "Xorg", MemUsed: 300 << 20, SMPercent: 2, HasSM: true},
		{PID: 2, Name: "gnome-shell", MemUsed: 200 << 20, SMPercent: 40, HasSM: true}, // the desktop itself never counts
		{PID: 3, Name: "firefox", MemUsed: 500 << 20, SMPercent: 3, HasSM: true},      // a browser at rest
		{PID: 4, Name: `C:\Games\eldenring.exe`, MemUsed: 6 << 30, SMPercent: 95, HasSM: true},
		{PID: 5, Name: "/usr/bin/ollama", Compute: true, MemUsed: 4 << 30}, // an inference server by name
		{PID: 6, Name: "python3", Compute: true, MemUsed: 1 << 30},         // listens on vLLM's port
		{PID: 7, Name: "blender", Compute: true, MemUsed: 1 << 20},         // any compute use counts
		{PID: 8, Name: "chrome", MemUsed: 3 << 30},                         // no per-process time: memory decides
		{PID: 9, Name: "steamwebhelper", MemUsed: 100 << 20, SMPercent: 10, HasSM: true},
	}
	got := Foreign(procs, map[int]bool{6: true})
	var pids []int
	for _, p := range got {
		pids = append(pids, p.PID)
	}
	if want := []int{4, 7, 8}; !equalInts(pids, want) {
		t.Errorf("foreign pids %v, want %v", pids, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestThermalRecorded(t *testing.T) {
	idle, load := recorded(t) // 39 °C / 79.8 W idle; 60 °C / 542 W under load
	s := Settings{MaxTempC: 55, MaxConcurrent: 8}
	r := func(smp telemetry.Sample) Readings { return Readings{GPU: smp, HasGPU: true} }
	warm := idle
	warm.GPUs = append([]telemetry.GPU(nil), idle.GPUs...)
	warm.GPUs[0].TempC = 53 // under the limit, not under it by the margin
	g := NewGuard()
	run(t, g, s, []step{
		{0, r(idle), 8, CauseNone, ""},
		{5 * time.Second, r(load), 4, CauseHeat, "Cooling down: GPU at 60 °C, 4 of 8 jobs at a time"},
		{10 * time.Second, r(load), 4, CauseHeat, ""},       // waits StepDown before the next step
		{25 * time.Second, r(load), 2, CauseHeat, "2 of 8"}, // still hot
		{45 * time.Second, r(load), 1, CauseHeat, "1 of 8"}, //
		{65 * time.Second, r(load), 0, CauseHeat, "no jobs until it cools"},
		{70 * time.Second, r(warm), 0, CauseHeat, ""},        // inside the margin: hold
		{80 * time.Second, r(idle), 0, CauseHeat, ""},        // under: the clock starts
		{139 * time.Second, r(idle), 0, CauseHeat, ""},       //
		{140 * time.Second, r(idle), 1, CauseHeat, "1 of 8"}, // a minute under: one step up
		{150 * time.Second, r(warm), 1, CauseHeat, ""},       // back in the margin: no flapping
		{200 * time.Second, r(idle), 1, CauseHeat, ""},
		{260 * time.Second, r(idle), 2, CauseHeat, "2 of 8"},
		{320 * time.Second, r(idle), 4, CauseHeat, "4 of 8"},
		{380 * time.Second, r(idle), 8, CauseNone, ""},
		{385 * time.Second, r(load), 4, CauseHeat, ""}, // a new spell starts at once
	})
	// Power: 542 W against a 300 W limit.
	run(t, NewGuard(), Settings{MaxPowerW: 300, MaxConcurrent: 3}, []step{
		{0, r(idle), 3, CauseNone, ""},
		{5 * time.Second, r(load), 1, CausePower, "Holding power down: GPU at 542 W, 1 of 3 jobs at a time"},
	})
	// No limits, or no GPU: nothing.
	run(t, NewGuard(), Settings{MaxConcurrent: 8}, []step{{0, r(load), 8, CauseNone, ""}})
	run(t, NewGuard(), Settings{MaxTempC: 55, MaxConcurrent: 8}, []step{{0, Readings{}, 8, CauseNone, ""}})
	// [N/A] temperatures say nothing.
	na := load
	na.GPUs = []telemetry.GPU{{Name: "x", Valid: telemetry.FieldUtil}}
	run(t, NewGuard(), s, []step{{0, r(na), 8, CauseNone, ""}})
}

func TestScheduleIdleBattery(t *testing.T) {
	sch, err := schedule.Parse([]string{"mon-fri 22:00-07:00"})
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{Schedule: sch, MaxConcurrent: 8}
	run(t, NewGuard(), s, []step{
		{0, Readings{}, 0, CauseSchedule, "Outside your earning hours — back at 22:00"},
		{10 * time.Hour, Readings{}, 8, CauseNone, ""},
	})
	desk := Settings{Desktop: true, OnlyWhenIdle: 5 * time.Minute, PauseOnBattery: true, MaxConcurrent: 8}
	run(t, NewGuard(), desk, []step{
		{0, Readings{HasIdle: true, IdleFor: 10 * time.Second}, 0, CauseUserBusy, "Paused while you use the computer — resumes after 5 min idle"},
		{time.Minute, Readings{HasIdle: true, IdleFor: 5 * time.Minute}, 8, CauseNone, ""},
		{2 * time.Minute, Readings{HasIdle: true, IdleFor: 6 * time.Minute, OnBattery: true}, 0, CauseBattery, "Paused on battery"},
		{3 * time.Minute, Readings{}, 8, CauseNone, ""}, // idle time unknown: no pause
	})
	// Headless: idle and battery never apply.
	head := desk
	head.Desktop = false
	run(t, NewGuard(), head, []step{{0, Readings{HasIdle: true, OnBattery: true}, 8, CauseNone, ""}})
}

func TestOverride(t *testing.T) {
	_, load := recorded(t)
	idle, _ := recorded(t)
	busy := Readings{GPU: load, HasGPU: true}
	quiet := Readings{GPU: idle, HasGPU: true}
	s := gpuOnly()
	s.ResumeAfter = 0
	g := NewGuard()
	run(t, g, s, []step{{0, busy, 0, CauseGPUBusy, "python3"}})
	g.Override() // Start earning from the tray
	run(t, g, s, []step{
		{5 * time.Second, busy, 8, CauseNone, ""},     // overridden while it lasts
		{10 * time.Second, quiet, 8, CauseNone, ""},   // it ends
		{15 * time.Second, busy, 0, CauseGPUBusy, ""}, // and begins again: paused again
	})
	// An override of one cause leaves the others.
	sch, _ := schedule.Parse([]string{"mon-fri 22:00-07:00"})
	s.Schedule = sch
	g = NewGuard()
	run(t, g, s, []step{{0, quiet, 0, CauseSchedule, ""}})
	g.Override()
	run(t, g, s, []step{
		{time.Second, quiet, 8, CauseNone, ""},
		{2 * time.Second, busy, 0, CauseGPUBusy, ""},
	})
}

func TestFromConfigDefaults(t *testing.T) {
	// An agent.toml without [earning] keeps the defaults, and a config
	// built in code with empty durations falls back the same way.
	s := FromConfig(config.Default(), true)
	if !s.PauseWhenGPUBusy || s.ResumeAfter != 2*time.Minute || s.OnlyWhenIdle != 0 || !s.PauseOnBattery || s.MaxTempC != 83 || s.MaxPowerW != 0 || len(s.Schedule) != 0 || s.MaxConcurrent != 8 {
		t.Errorf("defaults: %+v", s)
	}
}

// BenchmarkEvaluate is the policies' work per telemetry sample.
func BenchmarkEvaluate(b *testing.B) {
	t := &testing.T{}
	_, load := recorded(t)
	sch, _ := schedule.Parse([]string{"mon-fri 22:00-07:00", "sat-sun 00:00-24:00"})
	s := Settings{PauseWhenGPUBusy: true, ResumeAfter: 2 * time.Minute, Schedule: sch, MaxTempC: 83, MaxConcurrent: 8}
	g := NewGuard()
	r := Readings{GPU: load, HasGPU: true}
	b.ReportAllocs()
	for i := range b.N {
		g.Evaluate(s, r, t0.Add(time.Duration(i)*5*time.Second))
	}
}
