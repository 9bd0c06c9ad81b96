package jobs

import (
	"time"

	"usepod.ai/agent/core/ledger"
)

// Outcomes of a job besides the job_error codes.
const (
	OutcomeDone      = "done"      // job_done was sent
	OutcomeCancelled = "cancelled" // job_cancel stopped it; no terminal frame
	OutcomeAborted   = "aborted"   // the session ended under it; no terminal frame
)

// Result is how one job ended, as told to Manager.OnJobEnd.
type Result struct {
	JobID   string
	Model   string
	Backend string // backend kind; "" when no backend serves the model
	// Outcome is OutcomeDone, the job_error code sent (backend_timeout,
	// out_of_capacity, ...), OutcomeCancelled or OutcomeAborted.
	Outcome string
	Message string // the job_error message; "" otherwise
	Refused bool   // turned away before it reached a backend

	Started          time.Time
	Duration         time.Duration // 0 for refused jobs
	TimeToFirstChunk time.Duration // 0 when no chunk was relayed
	RelayedBytes     int64         // backend bytes sent as job_chunk frames

	// Usage and earnings are known for done jobs only.
	InputTokens  int64
	OutputTokens int64
	EarnedE12    int64 // exact earnings in 1e-12 USDC (see ledger.Amount)
}

// FailedEntry is the job record of a job that did not end with job_done
// (done jobs are recorded by the Manager itself, before job_done is sent),
// for Keeper.RecordLater from Manager.OnJobEnd. ok is false for a done job.
// It earns nothing; its time is when it ended.
func FailedEntry(r Result) (e ledger.Entry, ok bool) {
	if r.Outcome == OutcomeDone {
		return ledger.Entry{}, false
	}
	return ledger.Entry{
		At: r.Started.Add(r.Duration), JobID: r.JobID, Model: r.Model, Backend: r.Backend,
		Outcome: r.Outcome, Message: r.Message, DurationMs: r.Duration.Milliseconds(),
		RelayedBytes: r.RelayedBytes, FirstChunk: r.TimeToFirstChunk,
	}, true
}
