// Package coordinator speaks the Use Pod provider protocol (docs/protocol.md
// sections 1-5) over one WebSocket: the wire messages, the signed handshake,
// and a session whose Run is its one reader and whose frames go out through
// one outbox, written by whichever goroutine holds the write token (a sender
// itself when the link is quiet, else the session's writer goroutine).
package coordinator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Inbound message types.
const (
	TypeAuthChallenge = "auth_challenge"
	TypeAuthOK        = "auth_ok"
	TypeAuthFailed    = "auth_failed"
	TypeJob           = "job"
	TypeJobCancel     = "job_cancel"
)

// DefaultDeadline applies when a job carries no deadline_ms.
const DefaultDeadline = 60 * time.Second

// AuthChallenge asks the agent to sign Nonce (already base64-decoded).
type AuthChallenge struct{ Nonce []byte }

// AuthOK ends a successful handshake. ProviderID is "" when the
// coordinator sent none: the session is up all the same, and the agent
// keeps sending its enrollment code until an auth_ok carries an id
// (docs/protocol.md sections 2 and 10.2).
type AuthOK struct{ ProviderID string }

// AuthFailed ends a failed handshake; Reason is shown to the user.
type AuthFailed struct{ Reason string }

// Job is one inference request to serve.
type Job struct {
	JobID    string
	ModelID  string
	Request  json.RawMessage // a JSON object: the client's request body
	Format   string          // "openai" or "anthropic"
	Deadline time.Duration
}

// JobCancel stops a job at once; no terminal frame follows.
type JobCancel struct{ JobID string }

// Unknown is a well-formed message of a type this agent does not know
// (e.g. config_update). It is ignored.
type Unknown struct{ Type string }

// ErrMalformed wraps every decode error: the frame is logged and dropped.
var ErrMalformed = errors.New("malformed frame")

// inbound is the union of every field an inbound message may carry.
type inbound struct {
	Type       *string         `json:"type"`
	Nonce      string          `json:"nonce"`
	ProviderID *string         `json:"provider_id"`
	Reason     string          `json:"reason"`
	JobID      string          `json:"job_id"`
	ModelID    string          `json:"model_id"`
	Request    json.RawMessage `json:"request"`
	Format     *string         `json:"format"`
	DeadlineMs *int64          `json:"deadline_ms"`
}

// Decode parses one inbound text frame into AuthChallenge, AuthOK,
// AuthFailed, Job, JobCancel or Unknown. Any error wraps ErrMalformed.
func Decode(data []byte) (any, error) {
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrMalformed, err)
	}
	if m.Type == nil {
		return nil, fmt.Errorf("%w: no \"type\" field", ErrMalformed)
	}
	bad := func(format string, args ...any) (any, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrMalformed, *m.Type, fmt.Sprintf(format, args...))
	}
	switch *m.Type {
	case TypeAuthChallenge:
		nonce, err := base64.StdEncoding.DecodeString(m.Nonce)
		if err != nil { // "base64" without padding is base64 too
			nonce, err = base64.RawStdEncoding.DecodeString(m.Nonce)
		}
		if err != nil || len(nonce) == 0 {
			return bad("nonce is not base64")
		}
		return AuthChallenge{Nonce: nonce}, nil
	case TypeAuthOK:
		if m.ProviderID == nil {
			return AuthOK{}, nil
		}
		return AuthOK{ProviderID: *m.ProviderID}, nil
	case TypeAuthFailed:
		if strings.TrimSpace(m.Reason) == "" {
			// The reason is all the user is told: never show nothing.
			return AuthFailed{Reason: "the coordinator refused the agent without giving a reason"}, nil
		}
		return AuthFailed{Reason: m.Reason}, nil
	case TypeJob:
		j := Job{JobID: m.JobID, ModelID: m.ModelID, Request: m.Request, Format: "openai", Deadline: DefaultDeadline}
		switch {
		case j.JobID == "":
			return bad("no job_id")
		case j.ModelID == "":
			return bad("job %s has no model_id", j.JobID)
		case len(bytes.TrimSpace(j.Request)) == 0 || bytes.TrimSpace(j.Request)[0] != '{':
			return bad("job %s: request is not a JSON object", j.JobID)
		}
		if m.Format != nil {
			if *m.Format != "openai" && *m.Format != "anthropic" {
				return bad("job %s: unknown format %q", j.JobID, *m.Format)
			}
			j.Format = *m.Format
		}
		if m.DeadlineMs != nil {
			if *m.DeadlineMs <= 0 {
				return bad("job %s: deadline_ms %d is not positive", j.JobID, *m.DeadlineMs)
			}
			j.Deadline = time.Duration(*m.DeadlineMs) * time.Millisecond
		}
		return j, nil
	case TypeJobCancel:
		if m.JobID == "" {
			return bad("no job_id")
		}
		return JobCancel{JobID: m.JobID}, nil
	default:
		return Unknown{Type: *m.Type}, nil
	}
}

// AuthResponse answers the challenge.
type AuthResponse struct {
	Type           string `json:"type"`
	Pubkey         string `json:"pubkey"`
	Signature      string `json:"signature"`
	AgentVersion   string `json:"agent_version"`
	EnrollmentCode string `json:"enrollment_code,omitempty"`
}

// Capabilities tells the coordinator what the agent offers.
type Capabilities struct {
	Type     string            `json:"type"`
	Models   []CapabilityModel `json:"models"`
	Limits   CapabilityLimits  `json:"limits"`
	Metadata map[string]string `json:"metadata"`
}

// CapabilityModel is one offered model.
type CapabilityModel struct {
	ModelID       string `json:"model_id"`
	InputPer1M    int64  `json:"input_per_1m"`
	OutputPer1M   int64  `json:"output_per_1m"`
	MaxConcurrent int    `json:"max_concurrent"`
	Backend       string `json:"backend"`
	ContextWindow int    `json:"context_window,omitempty"`
}

// CapabilityLimits are the agent-wide limits.
type CapabilityLimits struct {
	MaxConcurrentTotal int  `json:"max_concurrent_total"`
	MaxTokensPerMinute *int `json:"max_tokens_per_minute"` // null when unlimited
}

// Heartbeat carries the agent's live figures (section 4).
type Heartbeat struct {
	Type            string  `json:"type"`
	QueueDepth      int     `json:"queue_depth"`
	TokensPerSecP50 float64 `json:"tokens_per_sec_p50"`
	P50LatencyMs    int64   `json:"p50_latency_ms"`
	P95LatencyMs    int64   `json:"p95_latency_ms"`
	ErrorRate60s    float64 `json:"error_rate_60s"`
	LastErrorAt     *string `json:"last_error_at"`
	LastErrorCode   *string `json:"last_error_code"`
}

// Tokens is the usage of a finished job, in both key spellings.
type Tokens struct {
	Input        int64 `json:"input"`
	Output       int64 `json:"output"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// JobDone is a job's successful terminal frame.
type JobDone struct {
	Type       string `json:"type"`
	JobID      string `json:"job_id"`
	Tokens     Tokens `json:"tokens"`
	DurationMs int64  `json:"duration_ms"`
}

// JobError is a job's failed terminal frame.
type JobError struct {
	Type          string `json:"type"`
	JobID         string `json:"job_id"`
	ErrorCode     string `json:"error_code"`
	Message       string `json:"message"`
	TokensEmitted int64  `json:"tokens_emitted"`
}

// NewJobDone builds a job_done frame.
func NewJobDone(jobID string, input, output int64, d time.Duration) JobDone {
	return JobDone{Type: "job_done", JobID: jobID, DurationMs: d.Milliseconds(),
		Tokens: Tokens{Input: input, Output: output, InputTokens: input, OutputTokens: output}}
}

// NewJobError builds a job_error frame.
func NewJobError(jobID, code, message string, emitted int64) JobError {
	return JobError{Type: "job_error", JobID: jobID, ErrorCode: code, Message: message, TokensEmitted: emitted}
}

// ChunkEncoder builds job_chunk frames for one job without reflection: the
// relay path runs it once per backend read. The job id is JSON-quoted once.
type ChunkEncoder struct {
	prefix []byte // {"type":"job_chunk","job_id":"...","data":"
}

// NewChunkEncoder prepares the frame prefix for jobID.
func NewChunkEncoder(jobID string) ChunkEncoder {
	quoted, _ := json.Marshal(jobID) // a Go string always marshals
	p := make([]byte, 0, len(quoted)+40)
	p = append(p, `{"type":"job_chunk","job_id":`...)
	p = append(p, quoted...)
	p = append(p, `,"data":"`...)
	return ChunkEncoder{prefix: p}
}

// Encode returns a new frame holding data base64-encoded. The result is
// freshly allocated and owned by the caller.
func (e ChunkEncoder) Encode(data []byte) []byte {
	return e.Append(make([]byte, 0, len(e.prefix)+base64.StdEncoding.EncodedLen(len(data))+2), data)
}

// Append appends the frame holding data base64-encoded to dst, in place
// when dst has room: the relay encodes straight into the session's outbox.
func (e ChunkEncoder) Append(dst, data []byte) []byte {
	dst = append(dst, e.prefix...)
	dst = base64.StdEncoding.AppendEncode(dst, data)
	return append(dst, '"', '}')
}

// FormatRFC3339 formats a time for last_error_at.
func FormatRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func encodeSig(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }
