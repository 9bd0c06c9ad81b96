package engine

import (
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/policy"
	"usepod.ai/agent/core/telemetry"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func gpuAt(tempC float64, procs ...telemetry.GPUProcess) policy.Readings {
	return policy.Readings{HasGPU: true, GPU: telemetry.Sample{
		GPUs:  []telemetry.GPU{{Name: "NVIDIA H200", TempC: tempC, Valid: telemetry.FieldTemp}},
		Procs: procs, ProcsOK: true,
	}}
}

// TestPoliciesShapeTheOffer drives the engine's offers through the
// policies: another program on the GPU, then heat, against the local
// coordinator.
func TestPoliciesShapeTheOffer(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.Local)}
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama),
		withConfig(func(c *config.Config) { c.Earning.MaxGPUTempC = 80; c.Limits.MaxConcurrent = 8 }),
		withOptions(func(o *Options) { o.Now = clk.now }))
	p := h.provider()
	caps, i := capabilities(t, p, 0)
	if len(caps.Models) != 1 || caps.Models[0].MaxConcurrent != 8 {
		t.Fatalf("first offer %+v", caps)
	}
	blender := telemetry.GPUProcess{PID: 4242, Name: "blender", Compute: true, GPU: 0}

	h.eng.Observe(gpuAt(50, blender))
	caps, i = capabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("with blender on the GPU offered %v", caps.ModelIDs())
	}
	s := h.waitState(func(s Snapshot) bool { return s.Reason != "" }, "a reason")
	if !strings.Contains(s.Reason, "blender uses the GPU") || s.State != StateWaiting || s.Policy.Cause != policy.CauseGPUBusy {
		t.Fatalf("snapshot while paused: state %v reason %q policy %+v", s.State, s.Reason, s.Policy)
	}
	clk.add(time.Minute)
	h.eng.Observe(gpuAt(50)) // gone, but not for resume_after (2 min) yet
	clk.add(59 * time.Second)
	h.eng.Observe(gpuAt(50))
	if s := h.eng.Snapshot(); s.Policy.Cause != policy.CauseGPUBusy || !strings.Contains(s.Reason, "resumes at") {
		t.Fatalf("1 s before resume_after ends: policy %+v", s.Policy)
	}
	clk.add(time.Second)
	h.eng.Observe(gpuAt(50))
	caps, i = capabilities(t, p, i+1)
	if len(caps.Models) != 1 {
		t.Fatalf("after blender closed offered %v", caps.ModelIDs())
	}

	h.eng.Observe(gpuAt(90))
	caps, i = capabilities(t, p, i+1)
	if caps.Models[0].MaxConcurrent != 4 || caps.Limits.MaxConcurrentTotal != 4 {
		t.Fatalf("hot GPU: offered %+v", caps)
	}
	s = h.waitState(func(s Snapshot) bool { return strings.HasPrefix(s.Reason, "Cooling down") }, "cooling down")
	if s.Reason != "Cooling down: GPU at 90 °C, 4 of 8 jobs at a time" {
		t.Errorf("reason %q", s.Reason)
	}
	clk.add(time.Minute)
	h.eng.Observe(gpuAt(60))
	clk.add(time.Minute)
	h.eng.Observe(gpuAt(60))
	caps, _ = capabilities(t, p, i+1)
	if caps.Models[0].MaxConcurrent != 8 || caps.Limits.MaxConcurrentTotal != 8 {
		t.Fatalf("cooled GPU: offered %+v", caps)
	}
}

// TestStartOverridesAutomaticPause: Start earning from the tray offers
// again while the other program still runs; a hand pause always wins.
func TestStartOverridesAutomaticPause(t *testing.T) {
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama))
	p := h.provider()
	_, i := capabilities(t, p, 0)
	game := telemetry.GPUProcess{PID: 77, Name: "eldenring.exe", SMPercent: 90, HasSM: true, MemUsed: 6 << 30}
	h.eng.Observe(gpuAt(50, game))
	caps, i := capabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("game on the GPU: offered %v", caps.ModelIDs())
	}
	h.eng.Start()
	caps, i = capabilities(t, p, i+1)
	if len(caps.Models) != 1 {
		t.Fatalf("Start over the pause offered %v", caps.ModelIDs())
	}
	h.eng.Observe(gpuAt(50, game)) // still running: the override holds
	h.eng.Pause()
	caps, _ = capabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("hand pause offered %v", caps.ModelIDs())
	}
	s := h.waitState(stateIs(StatePaused), "paused")
	if s.Reason != "" {
		t.Errorf("hand pause shows the automatic reason %q", s.Reason)
	}
}

// TestScheduleAppliesFromTheFirstOffer: outside the earning hours the
// agent connects and offers nothing, from its first capabilities on, and
// says when it is back.
func TestScheduleAppliesFromTheFirstOffer(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.Local)} // a Friday noon
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama),
		withConfig(func(c *config.Config) { c.Earning.Schedule = []string{"mon-fri 22:00-07:00"} }),
		withOptions(func(o *Options) { o.Now = clk.now }))
	p := h.provider()
	caps, i := capabilities(t, p, 0)
	if len(caps.Models) != 0 {
		t.Fatalf("outside the schedule the first offer is %v", caps.ModelIDs())
	}
	s := h.waitState(stateIs(StateWaiting), "waiting")
	if s.Reason != "Outside your earning hours — back at 22:00" || s.Policy.Cause != policy.CauseSchedule {
		t.Errorf("reason %q policy %+v", s.Reason, s.Policy)
	}
	clk.add(10 * time.Hour)
	h.eng.Observe(policy.Readings{}) // no GPU: the schedule still moves with the clock
	caps, _ = capabilities(t, p, i+1)
	if len(caps.Models) != 1 {
		t.Fatalf("inside the schedule offered %v", caps.ModelIDs())
	}
}

// TestBusyGPUWithNoJobOfOurs: where nvidia-smi cannot list a game, the GPU
// busy while the agent runs nothing pauses the offer, but not within the
// grace after the agent's own last job.
func TestBusyGPUWithNoJobOfOurs(t *testing.T) {
	clk := &clock{t: time.Now()} // the job's deadline runs on this clock
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama),
		withOptions(func(o *Options) { o.Now = clk.now }))
	p := h.provider()
	_, i := capabilities(t, p, 0)
	busy := policy.Readings{HasGPU: true, GPU: telemetry.Sample{
		GPUs:    []telemetry.GPU{{Name: "NVIDIA H200", UtilPercent: 100, Valid: telemetry.FieldUtil}},
		Procs:   []telemetry.GPUProcess{}, // nvidia-smi: no compute process
		ProcsOK: true,
	}}

	clk.add(time.Minute)
	jobAt := clk.now()
	res, err := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "ours", ModelID: "tiny", Request: chatRequest()})
	if err != nil || res.Done == nil {
		t.Fatalf("job: %v %s", err, res.Terminal.Raw)
	}
	h.waitState(func(s Snapshot) bool { return s.JobsInFlight == 0 }, "the job ended")
	// Our job's tail, then the load of something else.
	for _, at := range []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second} {
		clk.add(at)
		h.eng.Observe(busy)
		if s := h.eng.Snapshot(); s.Policy.Cause != policy.CauseNone {
			t.Fatalf("%v after our job: policy %+v", clk.now().Sub(jobAt), s.Policy)
		}
	}
	clk.add(10 * time.Second) // 10 s of load past the grace
	h.eng.Observe(busy)
	caps, _ := capabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("busy GPU: offered %v", caps.ModelIDs())
	}
	s := h.waitState(func(s Snapshot) bool { return s.Reason != "" }, "a reason")
	if s.Policy.Cause != policy.CauseGPUBusy || s.Reason != "Paused while another program uses the GPU (100 %) — resumes 2 min after it stops" {
		t.Fatalf("paused: reason %q policy %+v", s.Reason, s.Policy)
	}
}
