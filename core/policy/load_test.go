package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/telemetry"
)

// nvmlSeries is the H200's readings, one a second, from an NVML recording.
func nvmlSeries(t *testing.T, name string) []telemetry.GPU {
	t.Helper()
	var out []telemetry.GPU
	for _, line := range strings.Split(strings.TrimSpace(string(readFixture(t, name))), "\n") {
		var rec struct {
			Index        int    `json:"index"`
			Name         string `json:"name"`
			UtilGPU      uint32 `json:"util_gpu"`
			MemUsed      uint64 `json:"mem_used"`
			MemTotal     uint64 `json:"mem_total"`
			TempC        uint32 `json:"temp_c"`
			PowerMW      uint32 `json:"power_mw"`
			PowerLimitMW uint32 `json:"power_limit_mw"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, telemetry.GPUFromNVML(telemetry.NVMLReading{
			Index: rec.Index, Name: rec.Name, UtilGPU: rec.UtilGPU, MemUsed: rec.MemUsed, MemTotal: rec.MemTotal,
			TempC: rec.TempC, PowerMW: rec.PowerMW, PowerLimitMW: rec.PowerLimitMW, OK: telemetry.FieldAll,
		}))
	}
	return out
}

// smiView is what nvidia-smi shows of gpu: its readings and the compute
// processes (none: a game is a graphics process, which it cannot list).
// The agent has run no job since idleSince (zero: one runs now).
func smiView(t *testing.T, gpu telemetry.GPU, idleSince time.Time) Readings {
	t.Helper()
	procs, err := telemetry.ParseSMIApps(readFixture(t, "smi_apps.csv"), telemetry.SMIAppColumns)
	if err != nil {
		t.Fatal(err)
	}
	s := telemetry.Sample{GPUs: []telemetry.GPU{gpu}, Procs: procs, ProcsOK: true}
	return Readings{GPU: s, HasGPU: true, AgentIdleSince: idleSince}
}

// withUtil is gpu reading util % instead.
func withUtil(gpu telemetry.GPU, util float64) telemetry.GPU {
	gpu.UtilPercent = util
	return gpu
}

func TestUnexplainedLoadRecorded(t *testing.T) {
	load, after := nvmlSeries(t, "nvml_load.jsonl"), nvmlSeries(t, "nvml_idle.jsonl")
	if load[0].UtilPercent != 0 || load[len(load)-1].UtilPercent != 100 || after[0].UtilPercent >= loadBusyUtil {
		t.Fatalf("recordings changed: load %v..%v %%, after %v %%", load[0].UtilPercent, load[len(load)-1].UtilPercent, after[0].UtilPercent)
	}
	idleSince := t0.Add(-time.Hour)
	at := func(gpu telemetry.GPU) Readings { return smiView(t, gpu, idleSince) }

	// The recording at the policy rate (a sample every 5 s): the load
	// pauses once it has stayed high for 10 s, and earning resumes 2 min
	// after it was last seen.
	run(t, NewGuard(), gpuOnly(), []step{
		{0, at(load[0]), 8, CauseNone, ""},
		{5 * time.Second, at(load[3]), 8, CauseNone, ""},
		{10 * time.Second, at(load[4]), 8, CauseNone, ""}, // 100 %: a program starting, maybe
		{15 * time.Second, at(load[5]), 8, CauseNone, ""},
		{20 * time.Second, at(load[6]), 0, CauseGPUBusy, "Paused while another program uses the GPU (100 %) — resumes 2 min after it stops"},
		{25 * time.Second, at(load[7]), 0, CauseGPUBusy, "(100 %)"},
		{30 * time.Second, at(after[0]), 0, CauseGPUBusy, "Paused: another program used the GPU — resumes at 12:02"},
		{2*time.Minute + 24*time.Second, at(after[1]), 0, CauseGPUBusy, "another program"},
		{2*time.Minute + 25*time.Second, at(after[2]), 8, CauseNone, ""},
	})

	// The recording at its own rate, once a second: 8 s of load is shorter
	// than the hold.
	var steps []step
	for i, gpu := range load {
		steps = append(steps, step{time.Duration(i) * time.Second, at(gpu), 8, CauseNone, ""})
	}
	run(t, NewGuard(), gpuOnly(), steps)
}

func TestUnexplainedLoadConditions(t *testing.T) {
	load := nvmlSeries(t, "nvml_load.jsonl")
	busy := load[len(load)-1] // 100 %
	long := t0.Add(-time.Hour)
	blind := func(util float64, idleSince time.Time) Readings { return smiView(t, withUtil(busy, util), idleSince) }
	// steady is the same readings every 5 s for a minute.
	steady := func(r Readings, limit int, cause Cause) []step {
		var s []step
		for at := time.Duration(0); at <= time.Minute; at += 5 * time.Second {
			s = append(s, step{at, r, limit, cause, ""})
		}
		return s
	}
	nvml := blind(100, long)
	nvml.GPU.ProcsGraphics = true
	amd := blind(100, long)
	amd.GPU.Procs, amd.GPU.ProcsOK = nil, false
	noUtil := blind(100, long)
	noUtil.GPU.GPUs[0].Valid &^= telemetry.FieldUtil
	foreign := blind(100, long)
	foreign.GPU.Procs = []telemetry.GPUProcess{{GPU: -1, PID: 422, Name: "python3", Compute: true, MemUsed: 1002 << 20}}

	tests := []struct {
		name  string
		steps []step
	}{
		{"our own job runs: never another program's", steady(blind(100, time.Time{}), 8, CauseNone)},
		{"NVML lists graphics processes: the list decides", steady(nvml, 8, CauseNone)},
		{"under half busy: a desktop, a video", steady(blind(45, long), 8, CauseNone)},
		{"no utilisation read", steady(noUtil, 8, CauseNone)},
		{"no process list at all (AMD, Apple)", []step{
			{0, amd, 8, CauseNone, ""},
			{10 * time.Second, amd, 0, CauseGPUBusy, "another program uses the GPU (100 %)"},
		}},
		{"a foreign compute process is named instead", []step{
			{0, foreign, 0, CauseGPUBusy, "python3 uses the GPU"},
			{10 * time.Second, foreign, 0, CauseGPUBusy, "python3 uses the GPU"},
		}},
		{"our last job's tail, then a game", []step{ // the job ended at t0
			{0, blind(100, t0), 8, CauseNone, ""},
			{5 * time.Second, blind(100, t0), 8, CauseNone, ""},
			{10 * time.Second, blind(100, t0), 8, CauseNone, ""}, // 10 s of load, but within the grace
			{15 * time.Second, blind(100, t0), 8, CauseNone, ""}, // the hold starts here
			{20 * time.Second, blind(100, t0), 8, CauseNone, ""},
			{25 * time.Second, blind(100, t0), 0, CauseGPUBusy, "(100 %)"},
		}},
		{"a dip starts the hold again", []step{
			{0, blind(90, long), 8, CauseNone, ""},
			{5 * time.Second, blind(90, long), 8, CauseNone, ""},
			{8 * time.Second, blind(20, long), 8, CauseNone, ""},
			{10 * time.Second, blind(90, long), 8, CauseNone, ""},
			{15 * time.Second, blind(90, long), 8, CauseNone, ""},
			{20 * time.Second, blind(87, long), 0, CauseGPUBusy, "(87 %)"},
		}},
		{"the setting off", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := gpuOnly()
			if tt.steps == nil {
				s.PauseWhenGPUBusy = false
				tt.steps = steady(blind(100, long), 8, CauseNone)
			}
			run(t, NewGuard(), s, tt.steps)
		})
	}
}

// The user's Start earning over the pause: the agent's own jobs then keep
// the GPU busy, and must not read as the other program gone nor keep the
// override past the load's end.
func TestUnexplainedLoadOverride(t *testing.T) {
	busy := nvmlSeries(t, "nvml_load.jsonl")[7]
	quiet := nvmlSeries(t, "nvml_idle.jsonl")[5]
	long := t0.Add(-time.Hour)
	s := gpuOnly()
	g := NewGuard()
	run(t, g, s, []step{
		{0, smiView(t, busy, long), 8, CauseNone, ""},
		{10 * time.Second, smiView(t, busy, long), 0, CauseGPUBusy, "another program"},
	})
	g.Override()
	run(t, g, s, []step{
		{15 * time.Second, smiView(t, busy, time.Time{}), 8, CauseNone, ""}, // our jobs run beside the game
		{3 * time.Minute, smiView(t, busy, time.Time{}), 8, CauseNone, ""},  // past resume_after: the game still counts as seen
		// A lull in jobs while the game goes on: the override holds.
		{4 * time.Minute, smiView(t, busy, t0.Add(4*time.Minute)), 8, CauseNone, ""},
		{4*time.Minute + 30*time.Second, smiView(t, busy, t0.Add(4*time.Minute)), 8, CauseNone, ""},
		{4*time.Minute + 40*time.Second, smiView(t, busy, t0.Add(4*time.Minute)), 8, CauseNone, ""},
		{5 * time.Minute, smiView(t, quiet, t0.Add(4*time.Minute)), 8, CauseNone, ""}, // the game ends
		{7 * time.Minute, smiView(t, quiet, t0.Add(4*time.Minute)), 8, CauseNone, ""}, // resume_after over: the override is forgotten
		{8 * time.Minute, smiView(t, busy, t0.Add(4*time.Minute)), 8, CauseNone, ""},  // the game again
		{8*time.Minute + 10*time.Second, smiView(t, busy, t0.Add(4*time.Minute)), 0, CauseGPUBusy, "another program"},
	})
}
