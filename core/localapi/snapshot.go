package localapi

import (
	"fmt"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/policy"
)

// The local API's snapshot, version 1 (the /v1 routes): GET /v1/status
// (as Status, with the process id) and each line of GET /v1/watch. A tray,
// a dashboard and a service of different versions read each other through
// it, so it is its own type, with its own json names, and no engine field
// reaches the wire without a line here; testdata/snapshot_v1.json holds
// the format (TestSnapshotWireGolden). A field may be added; renaming or
// removing one needs a /v2.

// Snapshot is the agent's whole state as of one moment.
type Snapshot struct {
	State        string       `json:"state"` // the state word: "earning", "paused", … (engine.State.String)
	Reason       string       `json:"reason"`
	Policy       Policy       `json:"policy"`
	RetryAt      time.Time    `json:"retry_at"`
	Coordinator  string       `json:"coordinator"`
	Connected    bool         `json:"connected"`
	Sessions     int64        `json:"sessions"`
	ProviderID   string       `json:"provider_id"`
	PublicKey    string       `json:"public_key"`
	KeyWhere     string       `json:"key_where"`
	Models       []Model      `json:"models"`
	Backends     []Backend    `json:"backends"`
	JobsInFlight int          `json:"jobs_in_flight"`
	JobsServed   int64        `json:"jobs_served"`
	Earnings     Totals       `json:"earnings"`
	Hourly       []HourBucket `json:"hourly"`
	LastError    string       `json:"last_error"`
	LastErrorAt  time.Time    `json:"last_error_at"`
	Problem      Problem      `json:"problem"`
	Problems     []string     `json:"problems"`
}

// Policy is the earning policies' verdict (policy.Verdict).
type Policy struct {
	Cause       string    `json:"cause,omitempty"`
	Limit       int       `json:"limit"`
	Reason      string    `json:"reason,omitempty"`
	Until       time.Time `json:"until,omitzero"`
	Overridable bool      `json:"overridable,omitempty"`
}

// Model is one row of the models table (engine.ModelStatus).
type Model struct {
	ID            string    `json:"model_id"`
	Backend       string    `json:"backend"`
	BackendURL    string    `json:"backend_url"`
	ContextWindow int       `json:"context_window"`
	Healthy       bool      `json:"healthy"`
	Enabled       bool      `json:"enabled"`
	Offered       bool      `json:"offered"`
	InputPer1M    int64     `json:"input_per_1m"`
	OutputPer1M   int64     `json:"output_per_1m"`
	DownSince     time.Time `json:"down_since"`
}

// Backend is one probed inference server (engine.BackendStatus).
type Backend struct {
	Kind    string `json:"kind"`
	URL     string `json:"url"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error"`
	Models  int    `json:"models"`
}

// Totals are the earnings on record (ledger.Totals), in micro-USDC.
type Totals struct {
	TodayMicro  int64        `json:"today_micro"`
	Last7dMicro int64        `json:"last_7d_micro"`
	TotalMicro  int64        `json:"total_micro"`
	TodayJobs   int64        `json:"today_jobs"`
	Jobs        int64        `json:"jobs"`
	Models      []ModelTotal `json:"models"`
}

// ModelTotal is one model's share of the totals (ledger.ModelTotal).
type ModelTotal struct {
	Model      string `json:"model"`
	Jobs       int64  `json:"jobs"`
	TotalMicro int64  `json:"total_micro"`
	TodayJobs  int64  `json:"today_jobs"`
	TodayMicro int64  `json:"today_micro"`
}

// HourBucket is one hour of earnings (ledger.HourBucket).
type HourBucket struct {
	Start time.Time `json:"start"`
	Micro int64     `json:"micro"`
	Jobs  int64     `json:"jobs"`
}

// Problem is what is wrong now, in plain words (explain.Problem).
type Problem struct {
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
	Action  string    `json:"action"`
	Detail  string    `json:"detail"`
	RetryAt time.Time `json:"retry_at"`
}

// WireSnapshot is s as the local API sends it.
func WireSnapshot(s engine.Snapshot) Snapshot {
	w := Snapshot{
		State:  s.State.String(),
		Reason: s.Reason,
		Policy: Policy{Cause: string(s.Policy.Cause), Limit: s.Policy.Limit, Reason: s.Policy.Reason,
			Until: s.Policy.Until, Overridable: s.Policy.Overridable},
		RetryAt: s.RetryAt, Coordinator: s.Coordinator, Connected: s.Connected, Sessions: s.Sessions,
		ProviderID: s.ProviderID, PublicKey: s.PublicKey, KeyWhere: s.KeyWhere,
		JobsInFlight: s.JobsInFlight, JobsServed: s.JobsServed,
		Earnings:  wireTotals(s.Earnings),
		LastError: s.LastError, LastErrorAt: s.LastErrorAt,
		Problem: Problem{Kind: string(s.Problem.Kind), Summary: s.Problem.Summary, Action: s.Problem.Action,
			Detail: s.Problem.Detail, RetryAt: s.Problem.RetryAt},
		Problems: s.Problems,
	}
	w.Models = convertAll(s.Models, func(m engine.ModelStatus) Model { return Model(m) })
	w.Backends = convertAll(s.Backends, func(b engine.BackendStatus) Backend { return Backend(b) })
	w.Hourly = convertAll(s.Hourly, func(h ledger.HourBucket) HourBucket { return HourBucket(h) })
	return w
}

func wireTotals(t ledger.Totals) Totals {
	return Totals{TodayMicro: t.TodayMicro, Last7dMicro: t.Last7dMicro, TotalMicro: t.TotalMicro,
		TodayJobs: t.TodayJobs, Jobs: t.Jobs,
		Models: convertAll(t.Models, func(m ledger.ModelTotal) ModelTotal { return ModelTotal(m) })}
}

// Engine is the snapshot as the engine's type, for the tray, the
// notifications and the dashboard. A state word this version does not
// know (a newer agent's) reads as connecting, and says so in LastError.
func (w Snapshot) Engine() engine.Snapshot {
	st, ok := engine.ParseState(w.State)
	s := engine.Snapshot{
		State:  st,
		Reason: w.Reason,
		Policy: policy.Verdict{Cause: policy.Cause(w.Policy.Cause), Limit: w.Policy.Limit, Reason: w.Policy.Reason,
			Until: w.Policy.Until, Overridable: w.Policy.Overridable},
		RetryAt: w.RetryAt, Coordinator: w.Coordinator, Connected: w.Connected, Sessions: w.Sessions,
		ProviderID: w.ProviderID, PublicKey: w.PublicKey, KeyWhere: w.KeyWhere,
		JobsInFlight: w.JobsInFlight, JobsServed: w.JobsServed,
		Earnings: ledger.Totals{TodayMicro: w.Earnings.TodayMicro, Last7dMicro: w.Earnings.Last7dMicro,
			TotalMicro: w.Earnings.TotalMicro, TodayJobs: w.Earnings.TodayJobs, Jobs: w.Earnings.Jobs,
			Models: convertAll(w.Earnings.Models, func(m ModelTotal) ledger.ModelTotal { return ledger.ModelTotal(m) })},
		LastError: w.LastError, LastErrorAt: w.LastErrorAt,
		Problem: explain.Problem{Kind: explain.Kind(w.Problem.Kind), Summary: w.Problem.Summary, Action: w.Problem.Action,
			Detail: w.Problem.Detail, RetryAt: w.Problem.RetryAt},
		Problems: w.Problems,
	}
	if !ok {
		s.State = engine.StateConnecting
		s.LastError = fmt.Sprintf("the agent reports a state this version does not know (%q); update Use Pod Agent", w.State)
	}
	s.Models = convertAll(w.Models, func(m Model) engine.ModelStatus { return engine.ModelStatus(m) })
	s.Backends = convertAll(w.Backends, func(b Backend) engine.BackendStatus { return engine.BackendStatus(b) })
	s.Hourly = convertAll(w.Hourly, func(h HourBucket) ledger.HourBucket { return ledger.HourBucket(h) })
	return s
}

// convertAll maps a slice, keeping nil as nil (JSON null stays null).
func convertAll[From, To any](in []From, f func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
