package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/ledger"
)

// quick serves model "ok" with one chunk and a usage, fails model "fail"
// at once as an unreachable backend, and holds model "hold" until its job
// is stopped.
type quick struct{}

func (quick) Stream(ctx context.Context, s backend.Server, f backend.Format, body []byte, onChunk func([]byte) error) (backend.Result, error) {
	var req struct{ Model string }
	json.Unmarshal(body, &req)
	switch req.Model {
	case "fail":
		return backend.Result{}, &backend.Error{Code: backend.CodeUnreachable, Message: "connection refused"}
	case "hold":
		<-ctx.Done()
		return backend.Result{}, ctx.Err()
	}
	if err := onChunk([]byte("data: [DONE]\n\n")); err != nil {
		return backend.Result{}, err
	}
	return backend.Result{Usage: backend.Usage{Input: 3, Output: 4}}, nil
}

// onRecord is a Recorder that keeps the job ids it recorded.
type onRecord struct {
	mu  sync.Mutex // guards ids
	ids map[string]bool
}

func (r *onRecord) Record(ctx context.Context, e ledger.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	r.ids[e.JobID] = true
	return nil
}

func (r *onRecord) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

// eager is a coordinator that dispatches a round of jobs, as many as the
// limit, and the next round the instant the last terminal frame of a round
// leaves the agent: inside Send, before the job's goroutine takes another
// step. That is the tightest a real coordinator reading job_done can be.
type eager struct {
	m      *Manager
	ctx    context.Context
	ledger *onRecord
	limit  int
	rounds int

	mu      sync.Mutex     // guards the fields below
	round   int            // rounds dispatched
	pending int            // terminal frames the current round still waits for
	refused []string       // out_of_capacity job_errors
	early   []string       // job_done frames for jobs not yet on record
	ends    map[string]int // terminal frames by type
	done    chan struct{}
}

// next dispatches round r. Every other job fails, so that job_error frames
// free their slot as job_done frames do.
func (c *eager) next(r int) {
	for i := range c.limit {
		model := "ok"
		if (r+i)%2 == 1 {
			model = "fail"
		}
		c.m.Handle(c.ctx, c, job(fmt.Sprintf("r%d-%d", r, i), model))
	}
}

func (c *eager) Send(ctx context.Context, frame []byte) error {
	var f struct {
		Type      string `json:"type"`
		JobID     string `json:"job_id"`
		ErrorCode string `json:"error_code"`
	}
	if err := json.Unmarshal(frame, &f); err != nil {
		return err
	}
	if f.Type != "job_done" && f.Type != "job_error" {
		return nil
	}
	c.mu.Lock()
	if f.ErrorCode == "out_of_capacity" {
		c.refused = append(c.refused, f.JobID)
	}
	if f.Type == "job_done" && !c.ledger.has(f.JobID) {
		c.early = append(c.early, f.JobID)
	}
	c.ends[f.Type]++
	c.pending--
	r := -1
	if c.pending == 0 {
		if c.round == c.rounds {
			close(c.done)
		} else {
			r = c.round
			c.round++
			c.pending = c.limit
		}
	}
	c.mu.Unlock()
	if r >= 0 {
		c.next(r)
	}
	return nil
}

func (c *eager) SendChunk(ctx context.Context, enc coordinator.ChunkEncoder, data []byte) error {
	return c.Send(ctx, enc.Encode(data))
}

func (c *eager) SendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(ctx, b)
}

// A coordinator that sends the next jobs the moment it reads job_done or
// job_error finds their slots free: a job gives its slot back before its
// terminal frame leaves, after its record is written (issue 17, item 9).
func TestSlotFreeWhenTerminalFrameLeaves(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprintf("max_concurrent=%d", limit), func(t *testing.T) {
			rec := &onRecord{}
			m := &Manager{
				Streamer:      quick{},
				Lookup:        func(string) (Route, bool) { return Route{Server: backend.Server{Kind: "vllm"}}, true },
				MaxConcurrent: func() int { return limit },
				Ledger:        rec,
				Now:           time.Now,
				Log:           slog.New(slog.DiscardHandler),
			}
			c := &eager{m: m, ctx: t.Context(), ledger: rec, limit: limit, rounds: 200,
				round: 1, pending: limit, ends: map[string]int{}, done: make(chan struct{})}
			c.next(0)
			<-c.done
			if err := m.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.refused) > 0 {
				t.Errorf("%d of %d jobs refused for capacity, dispatched as the previous ones ended: %v",
					len(c.refused), c.rounds*limit, c.refused)
			}
			if len(c.early) > 0 {
				t.Errorf("job_done sent before the job was on record: %v", c.early)
			}
			// Half the jobs fail: each kind of terminal frame frees slots.
			if want := c.rounds * limit / 2; c.ends["job_done"] != want || c.ends["job_error"] != want {
				t.Errorf("terminal frames %v, want %d of each", c.ends, want)
			}
			if n := m.InFlight(); n != 0 {
				t.Errorf("InFlight = %d after every job ended", n)
			}
		})
	}
}

// gatedSend is frames whose first job_done waits for open to be closed,
// after saying so on sending: the moment between a job giving its slot
// back and its terminal frame leaving, held open.
type gatedSend struct {
	frames
	once    sync.Once
	sending chan struct{}
	open    chan struct{}
}

func (g *gatedSend) SendJSON(ctx context.Context, v any) error {
	if _, ok := v.(coordinator.JobDone); ok {
		g.once.Do(func() {
			close(g.sending)
			<-g.open
		})
	}
	return g.frames.SendJSON(ctx, v)
}

// While a job's job_done is on its way, its slot is free and counted so
// (InFlight, the limit), job_cancel for it does nothing, its id may come
// again as a new job, and Wait still waits for it; once it is sent, the
// new job keeps its slot.
func TestFreedSlotBeforeTheFrameLeaves(t *testing.T) {
	rec := &onRecord{}
	changes := make(chan struct{}, 16)
	m := &Manager{
		Streamer:      quick{},
		Lookup:        func(string) (Route, bool) { return Route{Server: backend.Server{Kind: "vllm"}}, true },
		MaxConcurrent: func() int { return 1 },
		Ledger:        rec,
		Now:           time.Now,
		Log:           slog.New(slog.DiscardHandler),
		OnChange:      func() { changes <- struct{}{} },
	}
	send := &gatedSend{sending: make(chan struct{}), open: make(chan struct{})}
	ctx := t.Context()
	m.Handle(ctx, send, job("a", "ok"))
	<-changes // a started
	<-send.sending

	if n := m.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d while job_done is on its way, want 0", n)
	}
	if !rec.has("a") {
		t.Fatal("job_done on its way before the job is on record")
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Wait(stopped); err == nil {
		t.Fatal("Wait returned while a job's goroutine still sends its job_done")
	}
	m.Cancel("a") // finished as far as the coordinator knows: ignored

	// The coordinator, having read job_done, sends a job with the same id.
	m.Handle(ctx, send, job("a", "hold"))
	<-changes // the new a started
	close(send.open)
	<-changes // the first a ended
	if term := send.terminal(t, "a"); term["type"] != "job_done" {
		t.Fatalf("the first job a ended with %v, want job_done", term)
	}
	if n := m.InFlight(); n != 1 {
		t.Fatalf("InFlight = %d after the first a ended, want 1: the new a holds its slot", n)
	}
	m.Handle(ctx, send, job("b", "ok"))
	if term := send.terminal(t, "b"); term["error_code"] != "out_of_capacity" {
		t.Fatalf("job b beyond the limit ended with %v, want out_of_capacity", term)
	}
	m.Cancel("a") // reaches the new a
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := m.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d after every job ended", n)
	}
	send.terminal(t, "a") // still one terminal frame for a: the cancelled one sent none
}
