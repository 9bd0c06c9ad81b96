package engine

import (
	"fmt"
	"time"

	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/policy"
)

// State is the one word the UI shows for the agent. It is computed in one
// place (nextState) from facts, never assigned at scattered call sites.
type State int

const (
	StatePaused             State = iota // the user does not want to earn
	StateConnecting                      // dialling or handshaking
	StateEarning                         // session up, a job running or finished recently
	StateWaiting                         // session up, models offered, no recent jobs
	StateOffline                         // no session; RetryAt says when the next try is
	StateEnrollmentRejected              // the coordinator said auth_failed; Reason says why
	StateNoBackends                      // no enabled, healthy model to offer
	StateNeedsEnrollment                 // not enrolled yet and no enrollment code to send
)

func (s State) String() string {
	switch s {
	case StatePaused:
		return "paused"
	case StateConnecting:
		return "connecting"
	case StateEarning:
		return "earning"
	case StateWaiting:
		return "waiting for jobs"
	case StateOffline:
		return "offline"
	case StateEnrollmentRejected:
		return "enrollment rejected"
	case StateNoBackends:
		return "no backends found"
	case StateNeedsEnrollment:
		return "needs enrollment code"
	}
	return "unknown"
}

// maxState is the highest State; ParseState tries each up to it.
const maxState = StateNeedsEnrollment

// ParseState is String's inverse.
func ParseState(word string) (State, bool) {
	for s := StatePaused; s <= maxState; s++ {
		if s.String() == word {
			return s, true
		}
	}
	return 0, false
}

// MarshalText writes the state as its word, so the local API's JSON reads
// "waiting for jobs", not a number that changes when states are added.
func (s State) MarshalText() ([]byte, error) {
	if s < StatePaused || s > maxState {
		return nil, fmt.Errorf("engine: no word for state %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a word MarshalText wrote.
func (s *State) UnmarshalText(b []byte) error {
	st, ok := ParseState(string(b))
	if !ok {
		return fmt.Errorf("engine: unknown state %q", b)
	}
	*s = st
	return nil
}

// Snapshot is the whole state the UI needs, as of one moment. Snapshots are
// values: the UI may keep them without locking.
type Snapshot struct {
	State State `json:"state"`
	// Reason is the coordinator's auth_failed reason
	// (StateEnrollmentRejected), else why an earning policy pauses or
	// throttles (Policy.Reason), else "".
	Reason string `json:"reason"`
	// Policy is the earning policies' verdict: what they allow and why.
	// Policy.Limit is 0 while they pause (no models offered).
	Policy policy.Verdict `json:"policy"`
	// RetryAt is when the next connection attempt starts (StateOffline).
	RetryAt time.Time `json:"retry_at"`

	Coordinator string `json:"coordinator"` // URL
	// Connected is true while a coordinator session is up (past auth_ok).
	Connected bool `json:"connected"`
	// Sessions counts the sessions that reached auth_ok since the agent
	// started: every one after the first is a reconnect.
	Sessions   int64  `json:"sessions"`
	ProviderID string `json:"provider_id"` // empty until enrolled
	PublicKey  string `json:"public_key"`  // base64
	KeyWhere   string `json:"key_where"`   // where the identity key is kept, in words

	Models       []ModelStatus   `json:"models"`   // every discovered model, sorted by ID
	Backends     []BackendStatus `json:"backends"` // every probed server
	JobsInFlight int             `json:"jobs_in_flight"`
	JobsServed   int64           `json:"jobs_served"` // job_done frames sent since the agent started

	Earnings ledger.Totals       `json:"earnings"`
	Hourly   []ledger.HourBucket `json:"hourly"` // last 24 hours, oldest first

	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`

	// Problem is what is wrong now, in plain words, with what to do and the
	// technical text for a Details control; zero when nothing is. Every
	// surface (dashboard header, tray) shows this one.
	Problem explain.Problem `json:"problem"`
	// Problems are what is wrong now while the agent keeps retrying (a
	// provider id it could not save, a ledger that cannot write), in plain
	// words, one sentence each; empty when all is well.
	Problems []string `json:"problems"`
}

// ModelStatus is one row of the models table.
type ModelStatus struct {
	ID            string `json:"model_id"`
	Backend       string `json:"backend"` // kind of the backend that serves it
	BackendURL    string `json:"backend_url"`
	ContextWindow int    `json:"context_window"` // 0 when unknown
	Healthy       bool   `json:"healthy"`
	Enabled       bool   `json:"enabled"`      // the user's switch
	Offered       bool   `json:"offered"`      // in the capabilities the coordinator has now
	InputPer1M    int64  `json:"input_per_1m"` // price, USDC base units per million tokens
	OutputPer1M   int64  `json:"output_per_1m"`

	// DownSince is when its server stopped answering (zero while healthy):
	// the row of a server that goes down stays, marked down, not offered.
	DownSince time.Time `json:"down_since"`
}

// BackendStatus is one probed inference server.
type BackendStatus struct {
	Kind    string `json:"kind"`
	URL     string `json:"url"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error"` // why not, in plain words
	Models  int    `json:"models"`
}
