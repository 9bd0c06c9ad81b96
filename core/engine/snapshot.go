package engine

import (
	"time"

	"usepod.ai/agent/core/ledger"
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

// Snapshot is the whole state the UI needs, as of one moment. Snapshots are
// values: the UI may keep them without locking.
type Snapshot struct {
	State State
	// Reason is the coordinator's auth_failed reason (StateEnrollmentRejected).
	Reason string
	// RetryAt is when the next connection attempt starts (StateOffline).
	RetryAt time.Time

	Coordinator string // URL
	ProviderID  string // empty until enrolled
	PublicKey   string // base64
	KeyWhere    string // where the identity key is kept, in words

	Models       []ModelStatus   // every discovered model, sorted by ID
	Backends     []BackendStatus // every probed server
	JobsInFlight int
	JobsServed   int64 // job_done frames sent since the agent started

	Earnings ledger.Totals
	Hourly   []ledger.HourBucket // last 24 hours, oldest first

	LastError   string
	LastErrorAt time.Time
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
}

// BackendStatus is one probed inference server.
type BackendStatus struct {
	Kind    string
	URL     string
	Healthy bool
	Error   string // why not, in plain words
	Models  int
}
