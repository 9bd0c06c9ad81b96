package engine

import (
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

// Snapshot is the whole state the UI needs, as of one moment. Snapshots are
// values: the UI may keep them without locking. It carries no json tags:
// the local API sends its own wire type (localapi.Snapshot), so a field
// here is not a contract between processes of different versions.
type Snapshot struct {
	State State
	// Reason is the coordinator's auth_failed reason
	// (StateEnrollmentRejected), else why an earning policy pauses or
	// throttles (Policy.Reason), else "".
	Reason string
	// Policy is the earning policies' verdict: what they allow and why.
	// Policy.Limit is 0 while they pause (no models offered).
	Policy policy.Verdict
	// RetryAt is when the next connection attempt starts (StateOffline).
	RetryAt time.Time

	Coordinator string // URL
	// Connected is true while a coordinator session is up (past auth_ok).
	Connected bool
	// Sessions counts the sessions that reached auth_ok since the agent
	// started: every one after the first is a reconnect.
	Sessions   int64
	ProviderID string // empty until enrolled
	PublicKey  string // base64
	KeyWhere   string // where the identity key is kept, in words

	Models       []ModelStatus   // every discovered model, sorted by ID
	Backends     []BackendStatus // every probed server
	JobsInFlight int
	JobsServed   int64 // job_done frames sent since the agent started

	Earnings ledger.Totals
	Hourly   []ledger.HourBucket // last 24 hours, oldest first

	LastError   string
	LastErrorAt time.Time

	// Problem is what is wrong now, in plain words, with what to do and the
	// technical text for a Details control; zero when nothing is. Every
	// surface (dashboard header, tray) shows this one.
	Problem explain.Problem
	// Problems are what is wrong now while the agent keeps retrying (a
	// provider id it could not save, a ledger that cannot write), in plain
	// words, one sentence each; empty when all is well.
	Problems []string
}

// ModelStatus is one row of the models table.
type ModelStatus struct {
	ID            string
	Backend       string // kind of the backend that serves it
	BackendURL    string
	ContextWindow int // 0 when unknown
	Healthy       bool
	Enabled       bool  // the user's switch
	Offered       bool  // in the capabilities the coordinator has now
	InputPer1M    int64 // price, USDC base units per million tokens
	OutputPer1M   int64

	// DownSince is when its server stopped answering (zero while healthy):
	// the row of a server that goes down stays, marked down, not offered.
	DownSince time.Time
}

// BackendStatus is one probed inference server.
type BackendStatus struct {
	Kind    string
	URL     string
	Healthy bool
	Error   string // why not, in plain words
	Models  int
}
