// Package jobs serves the coordinator's jobs: routing by model, the
// concurrency limit, deadlines, cancel, and the relay of backend bytes as
// job_chunk frames, ending each job with exactly one terminal frame.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/ledger"
)

// Route is where a model's jobs go and what they earn.
type Route struct {
	Server      backend.Server
	InputPer1M  int64
	OutputPer1M int64
}

// Streamer runs one streaming request against a backend. It blocks until
// the stream ends; see backend.Client.Stream.
type Streamer interface {
	Stream(ctx context.Context, s backend.Server, f backend.Format, body []byte, onChunk func([]byte) error) (backend.Result, error)
}

// Sender queues frames to the coordinator; see coordinator.Session.
type Sender interface {
	Send(ctx context.Context, frame []byte) error
	SendJSON(ctx context.Context, v any) error
	// SendChunk queues the job_chunk frame of data without keeping data.
	SendChunk(ctx context.Context, enc coordinator.ChunkEncoder, data []byte) error
}

// Recorder keeps finished jobs; see ledger.Ledger. Record blocks until the
// entry is durable.
type Recorder interface {
	Record(ctx context.Context, e ledger.Entry) error
}

// Manager runs jobs. It lives as long as the agent; each job runs under the
// context of the session that brought it, so a disconnect aborts it.
type Manager struct {
	Streamer Streamer
	// Lookup resolves a model id to its route; false when no enabled,
	// healthy backend serves it.
	Lookup func(model string) (Route, bool)
	// MaxConcurrent is the current limit of jobs in flight.
	MaxConcurrent func() int
	Ledger        Recorder
	Now           func() time.Time
	// Log gets component=jobs from the Manager (give it a logger without
	// it); nil logs nothing.
	Log *slog.Logger
	// OnChange is called (without locks held) when a job starts or ends.
	OnChange func()
	// OnLedgerError is called when a finished job could not be recorded.
	OnLedgerError func(error)
	// OnJobEnd, when set, is told how every job ended, refused ones
	// included (metrics, a job record). It is called on the job's own
	// goroutine, without locks held, and must not block.
	OnJobEnd func(Result)

	Stats Stats

	logOnce sync.Once
	log     *slog.Logger // Log with the component attribute; see logger

	mu sync.Mutex // guards running, live, idle and served
	// running holds the jobs that have a slot, by id: from Handle until
	// their terminal frame is about to be sent (see free), or until they
	// end without one. The limit and job_cancel apply to these.
	running map[string]*slot
	// live counts the job goroutines not yet returned: a job past its slot
	// still sends its terminal frame. Wait waits for it to reach 0.
	live   int
	idle   chan struct{} // closed when live drops to 0
	served int64
}

// slot is one job's place among the MaxConcurrent jobs in flight.
type slot struct {
	cancel context.CancelCauseFunc
}

// logger is Log with this package's component attribute, made once.
func (m *Manager) logger() *slog.Logger {
	m.logOnce.Do(func() {
		log := m.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		m.log = log.With("component", "jobs")
	})
	return m.log
}

// errCancelled is the cause of a job stopped by job_cancel.
var errCancelled = errors.New("cancelled by the coordinator")

// Handle starts serving j, or refuses it with a job_error. It does not
// block: the reader goroutine calls it.
func (m *Manager) Handle(sessCtx context.Context, send Sender, j coordinator.Job) {
	log := m.logger().With("job", j.JobID, "model", j.ModelID)
	defer func() {
		// A panic in routing (the Lookup or MaxConcurrent callbacks) must
		// not take the session's reader down with it.
		if v := recover(); v != nil {
			log.Error("panic while accepting a job; it ends with job_error", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			go m.refuse(sessCtx, send, j, "", backend.CodeInternal, "the agent hit an internal error while accepting this job")
		}
	}()
	route, ok := m.Lookup(j.ModelID)
	if !ok {
		log.Info("refused job: model not offered")
		go m.refuse(sessCtx, send, j, "", backend.CodeModelNotFound, fmt.Sprintf("model %q is not served by any enabled backend of this agent", j.ModelID))
		return
	}
	limit := m.MaxConcurrent() // before m.mu: the callback takes the engine's lock
	m.mu.Lock()
	if m.running == nil {
		m.running = map[string]*slot{}
	}
	if _, dup := m.running[j.JobID]; dup {
		m.mu.Unlock()
		log.Warn("dropped duplicate job frame for a job already running")
		return
	}
	if len(m.running) >= limit {
		m.mu.Unlock()
		log.Info("refused job: at capacity", "limit", limit)
		go m.refuse(sessCtx, send, j, route.Server.Kind, "out_of_capacity", fmt.Sprintf("agent is serving its maximum of %d jobs", limit))
		return
	}
	start := m.Now()
	jctx, cancel := context.WithCancelCause(sessCtx)
	jctx, cancelDeadline := context.WithDeadline(jctx, start.Add(j.Deadline))
	s := &slot{cancel: cancel}
	m.running[j.JobID] = s
	m.live++
	m.mu.Unlock()
	m.changed()

	go func() {
		defer cancelDeadline()
		m.serve(sessCtx, jctx, send, j, route, start, log, func() { m.free(j.JobID, s) })
		m.free(j.JobID, s) // a job that ended without a terminal frame
		cancel(nil)
		m.mu.Lock()
		m.live--
		if m.live == 0 && m.idle != nil {
			close(m.idle)
			m.idle = nil
		}
		m.mu.Unlock()
		m.changed()
	}()
}

// free gives the slot s of job jobID back. The job's goroutine calls it
// just before it sends the job's terminal frame: a coordinator may
// dispatch the next job the moment it reads job_done, and that job must
// find the slot free, not out_of_capacity. From then on the job is
// finished as far as the coordinator can tell: job_cancel no longer
// reaches it, and a job frame with its id is a new job. Calling free again
// does nothing, and it never frees the slot of such a new job.
func (m *Manager) free(jobID string, s *slot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[jobID] == s {
		delete(m.running, jobID)
	}
}

// Cancel stops a running job at once; no terminal frame is sent. Unknown
// or finished jobs are ignored, and so is a job whose terminal frame is
// already on its way. It does not block.
func (m *Manager) Cancel(jobID string) {
	m.mu.Lock()
	s, ok := m.running[jobID]
	m.mu.Unlock()
	if ok {
		s.cancel(errCancelled)
	}
}

// InFlight is the number of jobs that hold a slot now: accepted, and not
// yet sending their terminal frame. It is what MaxConcurrent limits.
func (m *Manager) InFlight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// Served is the number of job_done frames sent since start.
func (m *Manager) Served() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.served
}

// Wait blocks until no job runs, or ctx ends. A job runs until its
// goroutine is done: its record written and its terminal frame queued,
// past the moment its slot was freed.
func (m *Manager) Wait(ctx context.Context) error {
	m.mu.Lock()
	if m.live == 0 {
		m.mu.Unlock()
		return nil
	}
	if m.idle == nil {
		m.idle = make(chan struct{})
	}
	idle := m.idle
	m.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) ended(r Result) {
	if m.OnJobEnd != nil {
		m.OnJobEnd(r)
	}
}

func (m *Manager) changed() {
	if m.OnChange != nil {
		m.OnChange()
	}
}

func (m *Manager) refuse(ctx context.Context, send Sender, j coordinator.Job, backendKind, code, msg string) {
	now := m.Now()
	m.Stats.add(outcome{at: now, errCode: code})
	m.ended(Result{JobID: j.JobID, Model: j.ModelID, Backend: backendKind, Outcome: code, Message: msg, Refused: true, Started: now})
	if err := send.SendJSON(ctx, coordinator.NewJobError(j.JobID, code, msg, 0)); err != nil {
		m.logger().Debug("could not send job_error", "job", j.JobID, "err", err)
	}
}

// serve runs one job to its end and sends its terminal frame, if any,
// calling free just before it does (see Manager.free).
//
// A panic while serving (a bug in a backend adapter, the relay or the
// ledger) ends this job only: it becomes the job's job_error (internal),
// logged with its stack, unless a terminal frame was already sent or the
// job was cancelled; the session and the other jobs go on.
func (m *Manager) serve(sessCtx, jctx context.Context, send Sender, j coordinator.Job, route Route, start time.Time, log *slog.Logger, free func()) {
	format := backend.Format(j.Format)
	var relayed int64
	ended := false               // a terminal frame was sent, or none is due (cancelled)
	var firstChunk time.Duration // from start; 0 until a chunk is relayed
	result := func(outcome, msg string) Result {
		return Result{
			JobID: j.JobID, Model: j.ModelID, Backend: route.Server.Kind, Outcome: outcome, Message: msg,
			Started: start, Duration: m.Now().Sub(start), TimeToFirstChunk: firstChunk, RelayedBytes: relayed,
		}
	}
	fail := func(code, msg string) {
		ended = true
		if sessCtx.Err() != nil {
			m.ended(result(OutcomeAborted, "")) // the session is gone: nobody to tell
			return
		}
		m.Stats.add(outcome{at: m.Now(), duration: m.Now().Sub(start), errCode: code})
		m.ended(result(code, msg))
		log.Info("job failed", "code", code, "err", msg, "bytes", relayed)
		free()
		if err := send.SendJSON(sessCtx, coordinator.NewJobError(j.JobID, code, msg, relayed)); err != nil {
			log.Debug("could not send job_error", "err", err)
		}
	}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		log.Error("job panicked; it ends with job_error, the agent goes on", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !ended && !errors.Is(context.Cause(jctx), errCancelled) {
			fail(backend.CodeInternal, "the agent hit an internal error while serving this job")
		}
	}()
	body, err := backend.PrepareBody(format, j.ModelID, j.Request)
	if err != nil {
		fail(backend.CodeInternal, err.Error())
		return
	}
	enc := coordinator.NewChunkEncoder(j.JobID)
	res, err := m.Streamer.Stream(jctx, route.Server, format, body, func(b []byte) error {
		if err := send.SendChunk(jctx, enc, b); err != nil {
			return err
		}
		if relayed == 0 {
			firstChunk = max(m.Now().Sub(start), 1) // never 0: 0 means "no chunk"
		}
		relayed += int64(len(b))
		return nil
	})
	switch {
	case errors.Is(context.Cause(jctx), errCancelled):
		ended = true
		log.Info("job cancelled by the coordinator", "bytes", relayed)
		m.ended(result(OutcomeCancelled, ""))
		return
	case sessCtx.Err() != nil:
		log.Info("job aborted: coordinator session ended", "bytes", relayed)
		m.ended(result(OutcomeAborted, ""))
		return
	case errors.Is(jctx.Err(), context.DeadlineExceeded):
		fail(backend.CodeTimeout, fmt.Sprintf("the job's deadline of %s passed", j.Deadline))
		return
	case err != nil:
		fail(backend.CodeOf(err), errMessage(err))
		return
	}
	d := m.Now().Sub(start)
	entry := ledger.Entry{
		At: m.Now(), JobID: j.JobID, Model: j.ModelID, Backend: route.Server.Kind,
		InputTokens: res.Usage.Input, OutputTokens: res.Usage.Output,
		InputPer1M: route.InputPer1M, OutputPer1M: route.OutputPer1M,
		DurationMs: d.Milliseconds(), RelayedBytes: relayed, FirstChunk: firstChunk,
	}
	// Record before reporting done: a job the coordinator knows as done is
	// in the ledger even if the process dies right after.
	if m.Ledger != nil {
		if err := m.Ledger.Record(context.WithoutCancel(sessCtx), entry); err != nil {
			log.Error("could not record earnings", "err", err)
			if m.OnLedgerError != nil {
				m.OnLedgerError(err)
			}
		}
	}
	m.Stats.add(outcome{at: m.Now(), duration: d, output: res.Usage.Output})
	m.mu.Lock()
	m.served++
	m.mu.Unlock()
	done := result(OutcomeDone, "")
	done.Duration = d
	done.InputTokens, done.OutputTokens, done.EarnedE12 = res.Usage.Input, res.Usage.Output, entry.AmountE12()
	m.ended(done)
	log.Info("job done", "input_tokens", res.Usage.Input, "output_tokens", res.Usage.Output, "ms", d.Milliseconds())
	ended = true
	// The slot is freed after the record (the job counts in flight until
	// it is on record) and before the frame (the coordinator may send the
	// next job as soon as it reads job_done).
	free()
	if err := send.SendJSON(sessCtx, coordinator.NewJobDone(j.JobID, res.Usage.Input, res.Usage.Output, d)); err != nil {
		log.Warn("could not send job_done", "err", err)
	}
}

// errMessage is the human text of a backend error, without its code prefix.
func errMessage(err error) string {
	var be *backend.Error
	if errors.As(err, &be) {
		return be.Message
	}
	return err.Error()
}
