// Package localcoord is a local stand-in for the closed Use Pod coordinator:
// a real WebSocket server that speaks exactly the frames of PROTOCOL.md.
// The tests drive it frame by frame, and `make demo` runs it so someone
// without a Use Pod account can watch the agent serve and earn.
package localcoord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// Options configure the server.
type Options struct {
	// EnrollmentCodes are the codes it accepts; empty accepts any code
	// that starts with "POD-ENROLL-".
	EnrollmentCodes []string
	// RejectReason, when set, answers every auth_response with auth_failed.
	RejectReason string
	// FirstFrame, when set, is sent instead of auth_challenge (to test a
	// broken handshake).
	FirstFrame []byte
	// OmitProviderID answers auth_ok without a provider_id, which
	// PROTOCOL.md section 2 allows ("once auth_ok carries a provider_id").
	OmitProviderID bool
	Log            *slog.Logger
}

// Server accepts provider connections. Safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex        // guards the fields below
	providers map[string]string // base64 public key -> provider_id
	conns     []*Provider
	connected chan *Provider // each authenticated connection, in order
}

// New returns a server; serve it with Handler().
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: o, log: o.Log, providers: map[string]string{}, connected: make(chan *Provider, 64)}
}

// SetRejectReason changes the auth answer for later handshakes ("" accepts).
func (s *Server) SetRejectReason(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.RejectReason = reason
}

// SetOmitProviderID changes, for later handshakes, whether auth_ok carries
// the provider_id.
func (s *Server) SetOmitProviderID(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.OmitProviderID = omit
}

// ProviderIDFor returns the provider id registered for a public key.
func (s *Server) ProviderIDFor(pubkey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.providers[pubkey]
}

// Enroll registers a public key as an enrolled provider, as the real
// coordinator knows a command-line agent that enrolled before, and returns
// its provider id.
func (s *Server) Enroll(pubkey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.providers[pubkey]
	if !ok {
		id = uuid.NewString()
		s.providers[pubkey] = id
	}
	return id
}

// Handler serves the provider endpoint (any path).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Next waits for the next authenticated provider connection.
func (s *Server) Next(ctx context.Context) (*Provider, error) {
	select {
	case p := <-s.connected:
		return p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for provider: %w", ctx.Err())
	}
}

// Providers lists every authenticated connection so far.
func (s *Server) Providers() []*Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Provider(nil), s.conns...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	ctx := r.Context()
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()

	if o.FirstFrame != nil {
		c.Write(ctx, websocket.MessageText, o.FirstFrame)
		c.Read(ctx) // hold until the agent gives up
		return
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	ch, _ := json.Marshal(map[string]string{"type": "auth_challenge", "nonce": base64.StdEncoding.EncodeToString(nonce)})
	if err := c.Write(ctx, websocket.MessageText, ch); err != nil {
		return
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		return
	}
	var resp struct {
		Type           string `json:"type"`
		Pubkey         string `json:"pubkey"`
		Signature      string `json:"signature"`
		AgentVersion   string `json:"agent_version"`
		EnrollmentCode string `json:"enrollment_code"`
	}
	fail := func(reason string) {
		b, _ := json.Marshal(map[string]string{"type": "auth_failed", "reason": reason})
		c.Write(ctx, websocket.MessageText, b)
		c.Close(websocket.StatusPolicyViolation, "auth failed")
	}
	if err := json.Unmarshal(data, &resp); err != nil || resp.Type != "auth_response" {
		fail("expected auth_response")
		return
	}
	pub, err1 := base64.StdEncoding.DecodeString(resp.Pubkey)
	sig, err2 := base64.StdEncoding.DecodeString(resp.Signature)
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, nonce, sig) {
		fail("bad signature")
		return
	}
	if o.RejectReason != "" {
		fail(o.RejectReason)
		return
	}
	s.mu.Lock()
	id, known := s.providers[resp.Pubkey]
	s.mu.Unlock()
	if resp.EnrollmentCode != "" {
		if !s.codeValid(o, resp.EnrollmentCode) {
			fail("invalid enrollment code")
			return
		}
		if !known {
			id = uuid.NewString()
		}
	} else if !known {
		fail("unknown provider: enroll with a code from your dashboard")
		return
	}
	s.mu.Lock()
	s.providers[resp.Pubkey] = id
	s.mu.Unlock()
	okMsg := map[string]string{"type": "auth_ok", "provider_id": id}
	if o.OmitProviderID {
		delete(okMsg, "provider_id")
	}
	ok, _ := json.Marshal(okMsg)
	if err := c.Write(ctx, websocket.MessageText, ok); err != nil {
		return
	}
	p := newProvider(c, id, resp.Pubkey, resp.EnrollmentCode, resp.AgentVersion)
	s.mu.Lock()
	s.conns = append(s.conns, p)
	s.mu.Unlock()
	select {
	case s.connected <- p:
	default:
	}
	p.readLoop(ctx)
}

func (s *Server) codeValid(o Options, code string) bool {
	if len(o.EnrollmentCodes) == 0 {
		return strings.HasPrefix(code, "POD-ENROLL-")
	}
	for _, c := range o.EnrollmentCodes {
		if c == code {
			return true
		}
	}
	return false
}

// Frame is one frame the agent sent after auth_ok.
type Frame struct {
	Type  string
	JobID string
	Raw   []byte
	At    time.Time // when it was read, for latency measurements
}

// Decode unmarshals the frame into v.
func (f Frame) Decode(v any) error { return json.Unmarshal(f.Raw, v) }

// Provider is one authenticated agent connection.
type Provider struct {
	ID             string
	PubKey         string
	EnrollmentCode string // as sent in auth_response ("" when none)
	AgentVersion   string

	conn *websocket.Conn

	mu     sync.Mutex // guards frames, closed and ends
	frames []Frame
	closed error
	wake   chan struct{} // closed and replaced whenever frames or closed change
	// ends holds, per job being dispatched, a channel that gets the index
	// of the job's terminal frame: with hundreds of jobs in flight, waking
	// every waiter on every frame would make the stand-in coordinator the
	// bottleneck of the benchmarks.
	ends map[string]chan int
	done chan struct{} // closed when the connection has ended
}

func newProvider(c *websocket.Conn, id, pub, code, version string) *Provider {
	return &Provider{ID: id, PubKey: pub, EnrollmentCode: code, AgentVersion: version, conn: c, wake: make(chan struct{}), ends: map[string]chan int{}, done: make(chan struct{})}
}

func (p *Provider) readLoop(ctx context.Context) {
	for {
		_, data, err := p.conn.Read(ctx)
		at := time.Now()
		p.mu.Lock()
		if err != nil {
			p.closed = err
			close(p.done)
		} else {
			typ, jobID := frameHead(data)
			p.frames = append(p.frames, Frame{Type: typ, JobID: jobID, Raw: data, At: at})
			if typ == "job_done" || typ == "job_error" {
				if ch, ok := p.ends[jobID]; ok {
					ch <- len(p.frames) - 1
					delete(p.ends, jobID)
				}
			}
		}
		close(p.wake)
		p.wake = make(chan struct{})
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// chunkPrefix starts every job_chunk frame this agent writes; frames that
// start with it are read without a full JSON decode, which would otherwise
// dominate the benchmarks' coordinator side.
const chunkPrefix = `{"type":"job_chunk","job_id":"`

// frameHead returns a frame's type and job_id.
func frameHead(data []byte) (typ, jobID string) {
	if rest, ok := bytes.CutPrefix(data, []byte(chunkPrefix)); ok {
		if i := bytes.IndexAny(rest, `"\`); i >= 0 && rest[i] == '"' {
			return "job_chunk", string(rest[:i])
		}
	}
	var head struct {
		Type  string `json:"type"`
		JobID string `json:"job_id"`
	}
	json.Unmarshal(data, &head)
	return head.Type, head.JobID
}

// chunkData returns the base64 payload of a job_chunk frame.
func chunkData(raw []byte) ([]byte, error) {
	const key = `,"data":"`
	if bytes.HasPrefix(raw, []byte(chunkPrefix)) && bytes.HasSuffix(raw, []byte(`"}`)) {
		if i := bytes.Index(raw, []byte(key)); i >= 0 {
			return base64.StdEncoding.AppendDecode(nil, raw[i+len(key):len(raw)-2])
		}
	}
	var c struct {
		Data []byte `json:"data"`
	}
	err := json.Unmarshal(raw, &c)
	return c.Data, err
}

// Send writes one frame to the agent: a []byte as is, anything else as JSON.
func (p *Provider) Send(ctx context.Context, v any) error {
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	return p.conn.Write(ctx, websocket.MessageText, b)
}

// SendBinary writes a binary frame, which the protocol does not use.
func (p *Provider) SendBinary(ctx context.Context, b []byte) error {
	return p.conn.Write(ctx, websocket.MessageBinary, b)
}

// Drop closes the connection abruptly, like a coordinator crash.
func (p *Provider) Drop() { p.conn.CloseNow() }

// CloseNormal closes with a normal closure, like a coordinator deploy.
func (p *Provider) CloseNormal() { p.conn.Close(websocket.StatusGoingAway, "restarting") }

// Frames returns every frame received so far, in order.
func (p *Provider) Frames() []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Frame(nil), p.frames...)
}

// ErrClosed is returned by waits once the connection has ended.
var ErrClosed = errors.New("provider connection closed")

// WaitFrame waits for the first frame at index >= from that matches, and
// returns it with its index.
func (p *Provider) WaitFrame(ctx context.Context, from int, match func(Frame) bool) (Frame, int, error) {
	for {
		p.mu.Lock()
		for i := from; i < len(p.frames); i++ {
			if match(p.frames[i]) {
				f := p.frames[i]
				p.mu.Unlock()
				return f, i, nil
			}
		}
		from = len(p.frames)
		closed, wake := p.closed, p.wake
		p.mu.Unlock()
		if closed != nil {
			return Frame{}, 0, fmt.Errorf("%w: %v", ErrClosed, closed)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Frame{}, 0, fmt.Errorf("wait for frame: %w", ctx.Err())
		}
	}
}

// Err is nil while the connection is open, else how it ended.
func (p *Provider) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Closed waits until the connection ends and returns how it ended.
func (p *Provider) Closed(ctx context.Context) error {
	for {
		p.mu.Lock()
		closed, wake := p.closed, p.wake
		p.mu.Unlock()
		if closed != nil {
			return closed
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// OfType matches frames of one type.
func OfType(t string) func(Frame) bool { return func(f Frame) bool { return f.Type == t } }

// Terminal matches the job_done or job_error of one job.
func Terminal(jobID string) func(Frame) bool {
	return func(f Frame) bool { return f.JobID == jobID && (f.Type == "job_done" || f.Type == "job_error") }
}

// Capabilities is the capabilities frame as the coordinator reads it.
type Capabilities struct {
	Models []struct {
		ModelID       string `json:"model_id"`
		InputPer1M    int64  `json:"input_per_1m"`
		OutputPer1M   int64  `json:"output_per_1m"`
		MaxConcurrent int    `json:"max_concurrent"`
		Backend       string `json:"backend"`
		ContextWindow int    `json:"context_window"`
	} `json:"models"`
	Limits struct {
		MaxConcurrentTotal int  `json:"max_concurrent_total"`
		MaxTokensPerMinute *int `json:"max_tokens_per_minute"`
	} `json:"limits"`
}

// ModelIDs lists the offered models.
func (c Capabilities) ModelIDs() []string {
	ids := make([]string, len(c.Models))
	for i, m := range c.Models {
		ids[i] = m.ModelID
	}
	return ids
}

// WaitCapabilities waits for the first capabilities frame at index >= from
// and returns it decoded, with its index.
func (p *Provider) WaitCapabilities(ctx context.Context, from int) (Capabilities, int, error) {
	f, i, err := p.WaitFrame(ctx, from, OfType("capabilities"))
	if err != nil {
		return Capabilities{}, 0, err
	}
	var c Capabilities
	if err := f.Decode(&c); err != nil {
		return Capabilities{}, 0, fmt.Errorf("capabilities frame: %w", err)
	}
	return c, i, nil
}
