package localapi

import (
	"errors"
	"fmt"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/telemetry"
)

var (
	// ErrNotRunning: nothing answers at the address.
	//lint:ignore ST1005 it starts with the product's name; the commands print it as is
	ErrNotRunning = errors.New("Use Pod Agent is not running")
	// ErrAlreadyRunning: Listen found another agent answering at the address.
	//lint:ignore ST1005 it starts with the product's name; the commands print it as is
	ErrAlreadyRunning = errors.New("Use Pod Agent is already running")
	// ErrForbidden: the agent at the address belongs to another user.
	ErrForbidden = errors.New("this agent belongs to another user")
)

// Error codes in error bodies.
const (
	CodeForbidden        = "forbidden"
	CodeNotImplemented   = "not_implemented"
	CodeBadRequest       = "bad_request"
	CodeNotFound         = "not_found"
	CodeRevisionConflict = "revision_conflict"
	CodeInvalidConfig    = "invalid_config"
	CodeIdentityConflict = "identity_conflict"
	CodeFailed           = "failed"
)

// Status is GET /v1/status: the snapshot plus the serving process's id.
type Status struct {
	Snapshot
	PID int `json:"pid"`
}

// ShowRequest asks an open dashboard to come to the front.
type ShowRequest struct {
	Settings bool `json:"settings"` // open the settings window too
}

// ImportRequest names the command-line agent's files to take over; either
// path may be empty (see the app's import).
type ImportRequest struct {
	AgentToml   string `json:"agent_toml"`
	IdentityKey string `json:"identity_key"`
	Force       bool   `json:"force"` // replace a different identity
}

// ImportResult says what an import took over.
type ImportResult struct {
	KeyPath    string `json:"key_path"`
	PublicKey  string `json:"public_key"`
	ProviderID string `json:"provider_id"`
	KeptIn     string `json:"kept_in"`
}

// IdentityConflictError is what an import returns when this computer
// already has a different identity and Force was not set. The client
// rebuilds it: errors.As(err, new(*IdentityConflictError)).
type IdentityConflictError struct {
	CurrentPublicKey  string
	CurrentProviderID string
	// CurrentJobs and CurrentEarnedMicro are what the identity an import
	// would replace has earned on this computer: zero means the user loses
	// nothing by replacing it.
	CurrentJobs        int64
	CurrentEarnedMicro int64
	Msg                string
}

func (e *IdentityConflictError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("this computer already has a different identity (public key %s, provider id %q)", e.CurrentPublicKey, e.CurrentProviderID)
}

// Error is an error the agent answered with.
type Error struct {
	Status  int    // HTTP status
	Code    string // one of the Code constants
	Message string // plain words
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrForbidden) hold for a 403 from the agent.
func (e *Error) Is(target error) bool { return target == ErrForbidden && e.Code == CodeForbidden }

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// Fields are the per-field problems of an invalid config.
	Fields []fieldError `json:"fields,omitempty"`
	// Path is the config file an invalid config was read from.
	Path string `json:"path,omitempty"`
	// CurrentPublicKey and CurrentProviderID describe the identity an
	// import would replace.
	CurrentPublicKey   string `json:"current_public_key,omitempty"`
	CurrentProviderID  string `json:"current_provider_id,omitempty"`
	CurrentJobs        int64  `json:"current_jobs,omitempty"`
	CurrentEarnedMicro int64  `json:"current_earned_micro_usdc,omitempty"`
}

type fieldError struct {
	Key     string `json:"key"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

type configBody struct {
	Revision uint64        `json:"revision"`
	Config   config.Config `json:"config"`
}

type modelSwitch struct {
	Model   string `json:"model"`
	Enabled bool   `json:"enabled"`
}

type dashboardBody struct {
	Settings bool `json:"settings"`
}

type hardwareBody struct {
	Latest  *telemetry.Sample  `json:"latest"`
	History []telemetry.Sample `json:"history"`
}

// healthJSON is backend.Health with its error as words.
type healthJSON struct {
	Server  backend.Server  `json:"server"`
	Healthy bool            `json:"healthy"`
	Error   string          `json:"error,omitempty"`
	Models  []backend.Model `json:"models"`
}

func toHealthJSON(hs []backend.Health) []healthJSON {
	out := make([]healthJSON, len(hs))
	for i, h := range hs {
		out[i] = healthJSON{Server: h.Server, Healthy: h.Healthy, Models: h.Models}
		if h.Err != nil {
			out[i].Error = h.Err.Error()
		}
	}
	return out
}

func fromHealthJSON(hs []healthJSON) []backend.Health {
	out := make([]backend.Health, len(hs))
	for i, h := range hs {
		out[i] = backend.Health{Server: h.Server, Healthy: h.Healthy, Models: h.Models}
		if h.Error != "" {
			out[i].Err = errors.New(h.Error)
		}
	}
	return out
}
