package ledger

import "time"

// Entry is one finished job as the ledger keeps it: a job_done, or one
// that ended otherwise (Outcome), which earns nothing.
type Entry struct {
	At           time.Time
	JobID        string
	Model        string
	Backend      string // backend kind, e.g. "llamacpp"
	InputTokens  int64
	OutputTokens int64
	InputPer1M   int64 // price, USDC base units per million tokens
	OutputPer1M  int64
	DurationMs   int64

	// Outcome is how the job ended: OutcomeDone ("" means done too), the
	// job_error code sent (backend_timeout, out_of_capacity, ...),
	// "cancelled" or "aborted". Only done jobs count in Totals and Hourly.
	Outcome      string `json:",omitempty"`
	Message      string `json:",omitempty"` // the job_error message, if any
	RelayedBytes int64  `json:",omitempty"` // backend bytes relayed as job_chunk frames
	// FirstChunk is the time from the job's start to its first relayed
	// chunk; 0 when none was relayed.
	FirstChunk time.Duration `json:",omitempty"`
}

// OutcomeDone is the Outcome of a job that ended with job_done.
const OutcomeDone = "done"

// Done reports whether the job ended with job_done (and so earned).
func (e Entry) Done() bool { return e.Outcome == "" || e.Outcome == OutcomeDone }

func (e Entry) outcome() string {
	if e.Done() {
		return OutcomeDone
	}
	return e.Outcome
}

// Totals are the earnings summaries the UI and `earnings` show. Amounts are
// micro-USDC (USDC base units), exact to 1 micro-USDC.
type Totals struct {
	TodayMicro  int64        `json:"today_micro"`
	Last7dMicro int64        `json:"last_7d_micro"`
	TotalMicro  int64        `json:"total_micro"`
	TodayJobs   int64        `json:"today_jobs"`
	Jobs        int64        `json:"jobs"`
	Models      []ModelTotal `json:"models"` // sorted by TotalMicro, largest first
}

// ModelTotal is one model's share of the totals.
type ModelTotal struct {
	Model      string `json:"model"`
	Jobs       int64  `json:"jobs"`
	TotalMicro int64  `json:"total_micro"`
	TodayJobs  int64  `json:"today_jobs"`
	TodayMicro int64  `json:"today_micro"`
}

// HourBucket is one hour of the hourly series used for charts.
type HourBucket struct {
	Start time.Time `json:"start"`
	Micro int64     `json:"micro"`
	Jobs  int64     `json:"jobs"`
}
