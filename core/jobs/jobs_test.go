package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/ledger"
)

// frames collects what the manager sends, as the coordinator would see it.
type frames struct {
	mu  sync.Mutex // guards got
	got []map[string]any
}

func (f *frames) Send(ctx context.Context, frame []byte) error {
	var m map[string]any
	if err := json.Unmarshal(frame, &m); err != nil {
		return err
	}
	f.mu.Lock()
	f.got = append(f.got, m)
	f.mu.Unlock()
	return nil
}

func (f *frames) SendChunk(ctx context.Context, enc coordinator.ChunkEncoder, data []byte) error {
	return f.Send(ctx, enc.Encode(data))
}

func (f *frames) SendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.Send(ctx, b)
}

// terminal returns the terminal frame sent for jobID, waiting up to 5 s.
func (f *frames) terminal(t *testing.T, jobID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		var found []map[string]any
		for _, m := range f.got {
			if m["job_id"] == jobID && (m["type"] == "job_done" || m["type"] == "job_error") {
				found = append(found, m)
			}
		}
		f.mu.Unlock()
		if len(found) > 1 {
			t.Fatalf("job %s got %d terminal frames: %v", jobID, len(found), found)
		}
		if len(found) == 1 {
			return found[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no terminal frame for job %s", jobID)
	return nil
}

// panicky streams one chunk for model "ok" and panics for model "boom", as
// a buggy backend adapter would.
type panicky struct{}

func (panicky) Stream(ctx context.Context, s backend.Server, f backend.Format, body []byte, onChunk func([]byte) error) (backend.Result, error) {
	if bytes.Contains(body, []byte(`"boom"`)) {
		panic("a bug in the adapter")
	}
	if err := onChunk([]byte("data: [DONE]\n\n")); err != nil {
		return backend.Result{}, err
	}
	return backend.Result{Usage: backend.Usage{Input: 3, Output: 4}}, nil
}

// panickyLedger panics when recording job "ledger-bug".
type panickyLedger struct{}

func (panickyLedger) Record(ctx context.Context, e ledger.Entry) error {
	if e.JobID == "ledger-bug" {
		panic("ledger bug")
	}
	return nil
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func job(id, model string) coordinator.Job {
	return coordinator.Job{JobID: id, ModelID: model, Format: "openai", Deadline: 10 * time.Second,
		Request: json.RawMessage(`{"messages":[{"role":"user","content":"hi"}]}`)}
}

// A panic while serving one job ends that job with job_error (internal),
// logged with its stack; the other jobs, the session and the process go on.
func TestPanicInAJobBecomesItsJobError(t *testing.T) {
	var logs syncBuffer
	m := &Manager{
		Streamer:      panicky{},
		Lookup:        func(model string) (Route, bool) { return Route{Server: backend.Server{Kind: "vllm"}}, true },
		MaxConcurrent: func() int { return 8 },
		Ledger:        panickyLedger{},
		Now:           time.Now,
		Log:           slog.New(slog.NewTextHandler(&logs, nil)),
	}
	send := &frames{}
	sessCtx := t.Context()
	m.Handle(sessCtx, send, job("j-boom", "boom"))
	m.Handle(sessCtx, send, job("j-ok", "ok"))
	m.Handle(sessCtx, send, job("ledger-bug", "ok"))

	for _, id := range []string{"j-boom", "ledger-bug"} {
		term := send.terminal(t, id)
		if term["type"] != "job_error" || term["error_code"] != backend.CodeInternal {
			t.Fatalf("job %s ended with %v, want job_error internal", id, term)
		}
		if msg, _ := term["message"].(string); !strings.Contains(msg, "internal error") {
			t.Fatalf("job %s message %q", id, msg)
		}
	}
	if term := send.terminal(t, "j-ok"); term["type"] != "job_done" {
		t.Fatalf("the job beside the panicking one ended with %v", term)
	}
	if err := m.Wait(t.Context()); err != nil || m.InFlight() != 0 {
		t.Fatalf("jobs still counted in flight after the panic: %d", m.InFlight())
	}
	// Later jobs are served as before.
	m.Handle(sessCtx, send, job("j-after", "ok"))
	if term := send.terminal(t, "j-after"); term["type"] != "job_done" {
		t.Fatalf("a job after the panic ended with %v", term)
	}
	out := logs.String()
	if !strings.Contains(out, "job panicked") || !strings.Contains(out, "jobs_test.go") {
		t.Fatalf("the panic was not logged with its stack:\n%s", out)
	}
}

// A panic in routing (the engine's Lookup) refuses that job with job_error
// instead of killing the session's reader.
func TestPanicInLookupRefusesTheJob(t *testing.T) {
	m := &Manager{
		Streamer: panicky{},
		Lookup: func(model string) (Route, bool) {
			if model == "boom" {
				panic("routing bug")
			}
			return Route{}, true
		},
		MaxConcurrent: func() int { return 8 },
		Now:           time.Now,
		Log:           slog.New(slog.DiscardHandler),
	}
	send := &frames{}
	m.Handle(t.Context(), send, job("j1", "boom"))
	if term := send.terminal(t, "j1"); term["type"] != "job_error" || term["error_code"] != backend.CodeInternal {
		t.Fatalf("job ended with %v, want job_error internal", term)
	}
}
