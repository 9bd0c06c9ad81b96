package ledger

import "time"

// Entry is one finished job (one job_done) as the ledger keeps it.
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
