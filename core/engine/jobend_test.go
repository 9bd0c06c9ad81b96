package engine

import (
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// jobEnds collects what OnJobEnd was told, by job id.
type jobEnds struct {
	mu  sync.Mutex // guards got
	got map[string]jobs.Result
}

func (j *jobEnds) add(r jobs.Result) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.got == nil {
		j.got = map[string]jobs.Result{}
	}
	j.got[r.JobID] = r
}

func (j *jobEnds) wait(t *testing.T, id string) jobs.Result {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		j.mu.Lock()
		r, ok := j.got[id]
		j.mu.Unlock()
		if ok {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("OnJobEnd never heard of %s", id)
	return jobs.Result{}
}

// TestOnJobEndSeesEveryOutcome: done and refused jobs reach the hook with
// what a job record needs; failed, cancelled and aborted ones below.
func TestOnJobEndSeesEveryOutcome(t *testing.T) {
	ends := &jobEnds{}
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama), withOptions(func(o *Options) { o.OnJobEnd = ends.add }))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)

	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "ok", ModelID: "tiny", Request: chatRequest()})
	if err != nil || res.Done == nil {
		t.Fatalf("ok: %v %s", err, res.Terminal.Raw)
	}
	r := ends.wait(t, "ok")
	// 17 x 100000 + 8 x 300000 = 4,100,000 e-12 USDC.
	if r.Outcome != jobs.OutcomeDone || r.Model != "tiny" || r.Backend != "llamacpp" || r.Refused ||
		r.InputTokens != 17 || r.OutputTokens != 8 || r.EarnedE12 != 4_100_000 ||
		r.RelayedBytes != int64(len(res.Body)) || r.TimeToFirstChunk <= 0 || r.TimeToFirstChunk > r.Duration || r.Started.IsZero() {
		t.Fatalf("done job: %+v (relayed %d bytes)", r, len(res.Body))
	}

	res, err = p.Dispatch(ctx, localcoord.JobRequest{JobID: "unknown", ModelID: "no-such-model", Request: chatRequest()})
	if err != nil || res.Error == nil {
		t.Fatalf("unknown: %v %s", err, res.Terminal.Raw)
	}
	if r := ends.wait(t, "unknown"); r.Outcome != "model_not_loaded" || !r.Refused || r.Message == "" || r.Duration != 0 {
		t.Fatalf("refused job: %+v", r)
	}

}

func TestOnJobEndCancelledAndAborted(t *testing.T) {
	ends := &jobEnds{}
	llama := replay.LlamaCpp(t, replay.WithHangAfter(100))
	h := newHarness(t, localcoord.Options{}, withBackends(llama), withOptions(func(o *Options) { o.OnJobEnd = ends.add }))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)
	firstChunk := func(id string) {
		t.Helper()
		if _, _, err := p.WaitFrame(ctx, 0, func(f localcoord.Frame) bool { return f.Type == "job_chunk" && f.JobID == id }); err != nil {
			t.Fatal(err)
		}
	}

	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "c", ModelID: "tiny", Request: chatRequest()})
	firstChunk("c")
	p.Send(ctx, map[string]string{"type": "job_cancel", "job_id": "c"})
	if r := ends.wait(t, "c"); r.Outcome != jobs.OutcomeCancelled || r.RelayedBytes == 0 || r.TimeToFirstChunk <= 0 {
		t.Fatalf("cancelled job: %+v", r)
	}

	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "late", ModelID: "tiny", Request: chatRequest(), DeadlineMs: 200})
	if err != nil || res.Error == nil {
		t.Fatalf("late: %v %s", err, res.Terminal.Raw)
	}
	if r := ends.wait(t, "late"); r.Outcome != "backend_timeout" || r.Message == "" || r.Refused || r.Duration < 200*time.Millisecond || r.RelayedBytes == 0 {
		t.Fatalf("job past its deadline: %+v", r)
	}

	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "a", ModelID: "tiny", Request: chatRequest()})
	firstChunk("a")
	p.Drop()
	if r := ends.wait(t, "a"); r.Outcome != jobs.OutcomeAborted || r.RelayedBytes == 0 {
		t.Fatalf("aborted job: %+v", r)
	}
	capabilities(t, h.provider(), 0)
	if s := h.waitState(func(s Snapshot) bool { return s.Connected && s.Sessions == 2 }, "the second session"); s.Sessions != 2 {
		t.Fatalf("sessions = %d", s.Sessions)
	}
}
