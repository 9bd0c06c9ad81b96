package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Defaults for Options fields left zero.
const (
	// DefaultReadLimit bounds one inbound frame. A job frame carries the
	// client's whole request body (long prompts, images as base64), so the
	// library's 32 KiB default is far too small; 32 MiB still protects memory.
	DefaultReadLimit        = 32 << 20
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultWriteTimeout     = 15 * time.Second
	// outboxSize bounds the frames waiting for the writer. When it is full,
	// relays block, which slows their backend reads: back-pressure instead of
	// unbounded memory.
	outboxSize = 256
)

// Signer is the identity as the handshake needs it.
type Signer interface {
	PublicBase64() string
	Sign(nonce []byte) []byte
}

// Options configure one connection attempt.
type Options struct {
	URL           string
	AllowInsecure bool // permit ws:// (local testing only)
	Identity      Signer
	AgentVersion  string
	// ProviderID is the id from an earlier auth_ok; while it is empty the
	// EnrollmentCode is sent.
	ProviderID       string
	EnrollmentCode   string
	HTTPClient       *http.Client
	ReadLimit        int64
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	Log              *slog.Logger
}

// AuthError is the coordinator's auth_failed: the reason is the only
// explanation the user gets.
type AuthError struct{ Reason string }

func (e *AuthError) Error() string { return "coordinator rejected the agent: " + e.Reason }

// CheckURL refuses anything but wss://, and ws:// unless allowed.
func CheckURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("coordinator URL %q is not a valid address", raw)
	}
	switch u.Scheme {
	case "wss":
		return nil
	case "ws":
		if allowInsecure {
			return nil
		}
		return fmt.Errorf("coordinator URL %q is not encrypted (ws://); use wss://, or --allow-insecure for local testing only", raw)
	}
	return fmt.Errorf("coordinator URL %q must start with wss://", raw)
}

// Session is one authenticated WebSocket session. One reader (Run) and one
// writer goroutine own the connection.
type Session struct {
	conn         *websocket.Conn
	providerID   string
	log          *slog.Logger
	writeTimeout time.Duration

	// wmu serialises socket writes and guards pending. Send writes a frame
	// itself when nothing is queued (saving the hand-off to the writer
	// goroutine, the largest part of the relay's added latency) and queues
	// it otherwise, so frames from one goroutine never overtake each other.
	wmu     sync.Mutex
	pending int // frames queued in out and not yet written

	out       chan []byte   // frames for the writer, in order
	closeReq  chan struct{} // closed by Close: flush, then close normally
	closeOnce sync.Once
	done      chan struct{} // closed when the writer has stopped
	ctx       context.Context
	cancel    context.CancelCauseFunc
}

// Connect dials the coordinator and completes the signed handshake. It
// blocks up to the handshake timeout. An auth_failed answer is an *AuthError.
func Connect(ctx context.Context, o Options) (*Session, error) {
	if err := CheckURL(o.URL, o.AllowInsecure); err != nil {
		return nil, err
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()

	conn, _, err := websocket.Dial(hctx, o.URL, &websocket.DialOptions{HTTPClient: o.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("dial coordinator: %w", err)
	}
	conn.SetReadLimit(o.ReadLimit)
	providerID, err := handshake(hctx, conn, o)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			conn.Close(websocket.StatusNormalClosure, "auth failed")
		} else {
			conn.CloseNow()
		}
		return nil, err
	}
	s := &Session{
		conn:         conn,
		providerID:   providerID,
		log:          o.Log,
		writeTimeout: o.WriteTimeout,
		out:          make(chan []byte, outboxSize),
		closeReq:     make(chan struct{}),
		done:         make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	go s.writeLoop()
	return s, nil
}

// handshake runs auth_challenge -> auth_response -> auth_ok|auth_failed.
func handshake(ctx context.Context, conn *websocket.Conn, o Options) (string, error) {
	typ, data, err := conn.Read(ctx)
	if err != nil {
		return "", fmt.Errorf("handshake: read challenge: %w", err)
	}
	if typ != websocket.MessageText {
		return "", errors.New("handshake: first frame was binary, not auth_challenge")
	}
	msg, err := Decode(data)
	if err != nil {
		return "", fmt.Errorf("handshake: %w", err)
	}
	ch, ok := msg.(AuthChallenge)
	if !ok {
		return "", fmt.Errorf("handshake: first message was %T, not auth_challenge", msg)
	}
	resp := AuthResponse{
		Type:         "auth_response",
		Pubkey:       o.Identity.PublicBase64(),
		Signature:    encodeSig(o.Identity.Sign(ch.Nonce)),
		AgentVersion: o.AgentVersion,
	}
	if o.ProviderID == "" {
		resp.EnrollmentCode = o.EnrollmentCode
	}
	b, _ := json.Marshal(resp)
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return "", fmt.Errorf("handshake: send auth_response: %w", err)
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("handshake: wait for auth_ok: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		msg, err := Decode(data)
		if err != nil {
			o.Log.Warn("dropped malformed frame during handshake", "err", err)
			continue
		}
		switch m := msg.(type) {
		case AuthOK:
			return m.ProviderID, nil
		case AuthFailed:
			return "", &AuthError{Reason: m.Reason}
		default:
			o.Log.Debug("ignored frame before auth_ok", "type", fmt.Sprintf("%T", msg))
		}
	}
}

// ProviderID is the id the coordinator gave in auth_ok.
func (s *Session) ProviderID() string { return s.providerID }

// Context is cancelled when the session ends; jobs run under it so a
// disconnect aborts them.
func (s *Session) Context() context.Context { return s.ctx }

// Handler receives the session's inbound jobs. Both methods are called on
// the reader goroutine and must not block.
type Handler interface {
	HandleJob(Job)
	HandleCancel(JobCancel)
}

// Run reads frames until the connection ends or ctx is cancelled, handing
// jobs and cancels to h. It blocks; the error says how the session ended
// (nil after a normal closure).
func (s *Session) Run(ctx context.Context, h Handler) error {
	// Cancelling ctx stops the reader (coder/websocket closes the
	// connection when a Read's context ends).
	defer s.cancel(errors.New("session ended"))
	stop := context.AfterFunc(s.ctx, func() { s.conn.CloseNow() })
	defer stop()
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			s.cancel(err)
			<-s.done
			if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("coordinator connection: %w", err)
		}
		if typ != websocket.MessageText {
			s.log.Warn("dropped binary frame", "bytes", len(data))
			continue
		}
		msg, err := Decode(data)
		if err != nil {
			s.log.Warn("dropped frame", "err", err)
			continue
		}
		switch m := msg.(type) {
		case Job:
			h.HandleJob(m)
		case JobCancel:
			h.HandleCancel(m)
		case Unknown:
			s.log.Debug("ignored unknown message", "type", m.Type)
		default:
			s.log.Debug("ignored handshake message after auth", "type", fmt.Sprintf("%T", msg))
		}
	}
}

// ErrClosed is returned by Send after the session ended.
var ErrClosed = errors.New("coordinator session closed")

// Send queues one text frame. It blocks while the outbox is full (until ctx
// ends or the session closes), which is the relay's back-pressure. The
// frame must not be modified afterwards.
func (s *Session) Send(ctx context.Context, frame []byte) error {
	select {
	case <-s.closeReq:
		return ErrClosed
	case <-s.ctx.Done():
		return ErrClosed
	default:
	}
	s.wmu.Lock()
	if s.pending == 0 {
		err := s.write(frame)
		s.wmu.Unlock()
		if err != nil {
			s.fail(err)
			return ErrClosed
		}
		return nil
	}
	s.pending++
	s.wmu.Unlock()
	select {
	case s.out <- frame:
		return nil
	case <-ctx.Done():
		s.unqueue()
		return ctx.Err()
	case <-s.ctx.Done():
		s.unqueue()
		return ErrClosed
	case <-s.closeReq:
		s.unqueue()
		return ErrClosed
	}
}

// unqueue takes back the pending count of a frame that was never queued.
func (s *Session) unqueue() {
	s.wmu.Lock()
	s.pending--
	s.wmu.Unlock()
}

// fail ends the session after a write error.
func (s *Session) fail(err error) {
	s.cancel(err)
	s.conn.CloseNow()
}

// SendJSON marshals v and queues it.
func (s *Session) SendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return s.Send(ctx, b)
}

// Close flushes the frames already queued and closes the connection with a
// normal closure. It blocks until the writer has stopped (bounded by the
// write timeout and the close handshake's own 5 s).
func (s *Session) Close() {
	s.closeOnce.Do(func() { close(s.closeReq) })
	<-s.done
}

// writeLoop writes the queued frames; Send writes the others itself, under
// the same lock.
func (s *Session) writeLoop() {
	defer close(s.done)
	for {
		select {
		case f := <-s.out:
			if err := s.writeQueued(f); err != nil {
				s.fail(err)
				return
			}
		case <-s.closeReq:
			for {
				select {
				case f := <-s.out:
					if err := s.writeQueued(f); err != nil {
						s.fail(err)
						return
					}
					continue
				default:
				}
				break
			}
			s.wmu.Lock() // wait for a Send writing right now
			s.wmu.Unlock()
			s.conn.Close(websocket.StatusNormalClosure, "agent closing")
			s.cancel(ErrClosed)
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Session) writeQueued(frame []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.pending--
	return s.write(frame)
}

// write sends one frame; the caller holds wmu.
func (s *Session) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.writeTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}
