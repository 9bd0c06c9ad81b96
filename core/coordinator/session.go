package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
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
	// maxQueued bounds the bytes waiting for the writer. Past it, senders
	// block until the writer takes them, which slows their backend reads:
	// back-pressure instead of unbounded memory. 1 MiB is about a hundred
	// full 8 KiB reads, or thousands of token-sized chunks.
	maxQueued = 1 << 20
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
	// PingInterval and PongTimeout notice a path that stopped carrying
	// bytes without closing: after PingInterval with nothing read, the
	// session pings; PongTimeout later with still no frame and no pong, it
	// ends. Zero means DefaultPingInterval / DefaultPongTimeout.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// Log gets component=coordinator from the session (give it a logger
	// without it); nil logs nothing.
	Log *slog.Logger
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

// Session is one authenticated WebSocket session. Run is its one reader.
// Frames wait in one outbox, in the order they were sent; whoever holds
// the write token takes everything queued and writes it as one batch: under
// load the frames of many jobs leave in one system call (see heldConn).
// A sender that finds the token free writes the batch itself, which saves
// the hand-off to another goroutine when the link is quiet; one that finds
// it taken only queues and wakes the writer goroutine, so a job's
// goroutine never waits for a write in progress.
type Session struct {
	conn         *websocket.Conn
	held         *heldConn   // the connection the WebSocket runs on (TLS for wss://); nil with a custom transport or a proxy
	frames       frameWriter // frames batches for held; used by the write token's holder
	providerID   string
	log          *slog.Logger
	writeTimeout time.Duration
	keepalive    keepalive

	// mu guards the outbox: queued, sizes, spare, spareSizes, space,
	// closing and takePending.
	mu sync.Mutex
	// queued holds the frames not yet taken by the writer, back to back,
	// in the order they were sent; sizes their lengths. Frames of one job
	// come from one goroutine, so per job they stay in order.
	queued     []byte
	sizes      []int
	spare      []byte // the writer's previous batch, reused for the next
	spareSizes []int
	space      chan struct{} // senders over the limit wait on it (made by the first); closed when the writer takes a batch
	closing    bool          // Close was called: no new frames
	// takePending: the write token's holder yields before it takes the
	// outbox (writeOrHandOff); frames queued meanwhile leave with its
	// batch, so their senders neither write nor wake the writer.
	takePending bool

	wtok      chan struct{} // the write token: holding it (a value in it) allows taking and writing a batch
	lastWrite time.Time     // when the last batch written by a sender left; guarded by the write token
	// noYieldUntil: a yield took longer than maxYield (a field, so tests
	// can move it); senders write without yielding until then. Guarded
	// by the write token.
	noYieldUntil time.Time
	maxYield     time.Duration
	wake         chan struct{} // one pending wake-up for the writer goroutine
	closeReq     chan struct{} // closed by Close: flush, then close normally
	closeOnce    sync.Once
	done         chan struct{} // closed when the writer has stopped
	ctx          context.Context
	cancel       context.CancelCauseFunc
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
	o.Log = o.Log.With("component", "coordinator")
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()

	client, held := holdingClient(o.HTTPClient, o.URL)
	conn, resp, err := websocket.Dial(hctx, o.URL, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, fmt.Errorf("dial coordinator: %w", upgradeFailed(resp, err))
	}
	conn.SetReadLimit(o.ReadLimit)
	providerID, err := handshake(hctx, conn, o)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			conn.Close(websocket.StatusNormalClosure, "auth failed")
			return nil, err
		}
		conn.CloseNow()
		return nil, &HandshakeError{Err: err}
	}
	s := &Session{
		conn:         conn,
		held:         held.conn(),
		providerID:   providerID,
		log:          o.Log,
		writeTimeout: o.WriteTimeout,
		keepalive:    newKeepalive(o.PingInterval, o.PongTimeout),
		maxYield:     maxYield,
		wtok:         make(chan struct{}, 1),
		wake:         make(chan struct{}, 1),
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

// ProviderID is the id the coordinator gave in auth_ok; "" when its
// auth_ok carried none.
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
	wctx, stopWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() { defer close(watching); s.watchSilence(wctx) }()
	defer func() { stopWatch(); <-watching }()
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
			var silent *SilentError
			if errors.As(context.Cause(s.ctx), &silent) {
				return fmt.Errorf("coordinator connection: %w", silent)
			}
			return fmt.Errorf("coordinator connection: %w", err)
		}
		s.keepalive.heard()
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

// Send queues one text frame; frame is copied, so the caller may reuse it.
// It blocks while the outbox holds more than maxQueued bytes (until the
// writer takes them, ctx ends or the session closes): that is the relay's
// back-pressure, which slows the backend reads instead of growing memory
// when the coordinator reads slower than the backends write. When it finds
// nobody writing, it writes the batch itself and returns once the bytes are
// in the kernel's socket buffer (at most the write timeout; ctx does not
// cut a write short, which would break the stream).
func (s *Session) Send(ctx context.Context, frame []byte) error {
	if err := s.reserve(ctx); err != nil {
		return err
	}
	s.queued = append(s.queued, frame...)
	s.sizes = append(s.sizes, len(frame))
	return s.queuedUnlock()
}

// SendChunk queues the job_chunk frame of data, encoded straight into the
// outbox (no allocation per chunk). data may be reused after it returns.
// It blocks like Send.
func (s *Session) SendChunk(ctx context.Context, enc ChunkEncoder, data []byte) error {
	if err := s.reserve(ctx); err != nil {
		return err
	}
	n := len(s.queued)
	s.queued = enc.Append(s.queued, data)
	s.sizes = append(s.sizes, len(s.queued)-n)
	return s.queuedUnlock()
}

// queuedUnlock is called with s.mu held after a frame was queued: it
// unlocks, and writes or hands off unless a writer about to take the
// outbox (yielding in writeOrHandOff) will carry the frame anyway.
func (s *Session) queuedUnlock() error {
	carried := s.takePending
	s.mu.Unlock()
	if carried {
		return nil
	}
	return s.writeOrHandOff()
}

// writeOrHandOff writes the queued frames as one batch when the write
// token is free, and otherwise leaves them to the writer goroutine.
func (s *Session) writeOrHandOff() error {
	select {
	case s.wtok <- struct{}{}:
	default:
		// Someone is writing and may have taken its batch already: the
		// writer goroutine takes the token next and writes this frame.
		s.wakeWriter()
		return nil
	}
	// While frames come fast, yield once before taking the outbox. The
	// jobs whose chunks arrived together with this one (the poller wakes
	// them in one go) are ready to run: they queue their frames first, see
	// takePending and go back to reading, and the batch leaves in one
	// write instead of one each. No timer, and nothing waits for anything
	// but already-runnable work. On a quiet link there is nobody to wait
	// for, and the yield would only wake an idle thread (the scheduler
	// does when a goroutine yields): the frame goes at once.
	if now := time.Now(); now.Sub(s.lastWrite) < busyWindow && now.After(s.noYieldUntil) {
		s.mu.Lock()
		s.takePending = true
		s.mu.Unlock()
		runtime.Gosched()
		// A yield goes behind everything runnable. When that is a lot (a
		// burst of job starts or ends, the ledger writing hundreds of
		// jobs), the frames queued behind this one would wait for all of
		// it: stop yielding for a while, and let each sender write.
		if back := time.Now(); back.Sub(now) > s.maxYield {
			s.noYieldUntil = back.Add(noYieldFor)
		}
	}
	_, err := s.writeNext()
	s.lastWrite = time.Now()
	<-s.wtok
	if err != nil {
		s.fail(err)
		return ErrClosed
	}
	s.mu.Lock()
	more := len(s.sizes) > 0
	s.mu.Unlock()
	if more { // queued while this batch was written
		s.wakeWriter()
	}
	return nil
}

// busyWindow: a sender that takes the write token within this time of the
// previous batch yields first to gather the frames of other jobs. At 256
// streams × 50 chunks/s a chunk arrives every 80 µs on average, often
// several at once; at one stream, every 20 ms.
const busyWindow = 200 * time.Microsecond

// maxYield is the longest a yield may take before senders stop yielding
// for noYieldFor: longer, and gathering frames costs them more latency
// than the system calls it saves are worth.
const (
	maxYield   = 250 * time.Microsecond
	noYieldFor = 20 * time.Millisecond
)

// reserve waits until the outbox has room and returns with s.mu held, or
// returns an error without it.
func (s *Session) reserve(ctx context.Context) error {
	s.mu.Lock()
	for {
		if s.closing || s.ctx.Err() != nil {
			s.mu.Unlock()
			return ErrClosed
		}
		if len(s.queued) < maxQueued {
			return nil
		}
		if s.space == nil {
			s.space = make(chan struct{})
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		}
		s.mu.Lock()
	}
}

// wakeWriter tells the writer goroutine there is work; a wake-up already
// pending covers this frame too.
func (s *Session) wakeWriter() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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

// Close writes the frames already queued and closes the connection with a
// normal closure; later sends get ErrClosed. It blocks until the writer
// has stopped (bounded by the write timeout and the close handshake's own
// 5 s).
func (s *Session) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.closeOnce.Do(func() { close(s.closeReq) })
	<-s.done
}

// writeLoop is the writer goroutine: woken when frames were queued while
// someone else was writing, it takes the token and writes until the outbox
// is empty; on Close it writes what is left and closes the connection.
func (s *Session) writeLoop() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
			if err := s.flush(); err != nil {
				s.fail(err)
				return
			}
		case <-s.closeReq:
			if err := s.flush(); err != nil {
				s.fail(err)
				return
			}
			s.conn.Close(websocket.StatusNormalClosure, "agent closing")
			s.cancel(ErrClosed)
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// flush takes the write token and writes batches until the outbox is
// empty.
func (s *Session) flush() error {
	select {
	case s.wtok <- struct{}{}:
	case <-s.ctx.Done():
		return nil
	}
	defer func() { <-s.wtok }()
	for {
		wrote, err := s.writeNext()
		if err != nil || !wrote {
			return err
		}
	}
}

// writeNext takes every queued frame and writes them as one batch; the
// caller holds the write token. It reports whether there was anything.
func (s *Session) writeNext() (bool, error) {
	s.mu.Lock()
	batch, sizes := s.queued, s.sizes
	if len(sizes) == 0 {
		s.takePending = false
		s.mu.Unlock()
		return false, nil
	}
	s.queued, s.sizes = s.spare[:0], s.spareSizes[:0]
	s.takePending = false
	if s.space != nil { // senders waiting for room may go on
		close(s.space)
		s.space = nil
	}
	s.mu.Unlock()

	err := s.writeBatch(batch, sizes)

	if cap(batch) > 4*maxQueued {
		batch = nil // one huge frame: do not keep its buffer
	}
	s.mu.Lock()
	s.spare, s.spareSizes = batch[:0], sizes[:0]
	s.mu.Unlock()
	return true, err
}

// writeBatch writes frames (back to back in batch, lengths in sizes) as
// WebSocket text messages. With the socket held, the session frames them
// itself and the batch leaves in one write, bounded by the write timeout;
// otherwise (a custom transport) the library writes them one by one.
func (s *Session) writeBatch(batch []byte, sizes []int) error {
	if s.held == nil {
		ctx, cancel := context.WithTimeout(s.ctx, s.writeTimeout)
		defer cancel()
		for _, n := range sizes {
			if err := s.conn.Write(ctx, websocket.MessageText, batch[:n]); err != nil {
				return fmt.Errorf("write frame: %w", err)
			}
			batch = batch[n:]
		}
		return nil
	}
	if err := s.held.writeBatch(s.frames.frames(batch, sizes), s.writeTimeout); err != nil {
		return fmt.Errorf("write frames: %w", err)
	}
	return nil
}
