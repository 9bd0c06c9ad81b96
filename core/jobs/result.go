package jobs

import "time"

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
