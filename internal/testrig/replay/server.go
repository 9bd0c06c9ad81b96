package replay

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Routes of the two job endpoints, the default targets of the fault options.
const (
	RouteChat     = "POST /v1/chat/completions"
	RouteMessages = "POST /v1/messages"
)

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Route is the "METHOD /path" key of the request.
func (r Request) Route() string { return r.Method + " " + r.Path }

// Server is an httptest.Server that answers each configured route with a
// recording. Its configuration is fixed once NewServer returns; its methods
// are safe for concurrent use.
type Server struct {
	*httptest.Server
	// Kind is the backend kind it stands for: "llamacpp", "ollama",
	// "vllm" or "lmstudio" (or whatever the test passed to NewServer).
	Kind string

	routes   map[string]Recording
	fallback *Recording // answer to unknown routes; nil: 404
	faults   map[string]fault
	pacing   time.Duration

	stop     chan struct{} // closed by Close: releases hanging handlers
	stopOnce sync.Once
	gone     chan Request
	goneN    atomic.Int64

	mu       sync.Mutex // guards requests
	requests []Request
}

type faultKind int

const (
	faultHang faultKind = iota + 1 // send n body bytes, then wait for the client to leave
	faultDie                       // send n body bytes, then drop the connection
)

type fault struct {
	kind faultKind
	n    int
}

// Option configures a Server.
type Option func(*builder)

type builder struct {
	tb  testing.TB
	srv *Server
}

func (b *builder) load(name string) Recording {
	b.tb.Helper()
	full := name
	if !strings.Contains(name, "/") {
		dir := fixtureDir(b.srv.Kind)
		if dir == "" {
			b.tb.Fatalf("replay: recording %q needs a directory (no recordings exist for kind %q)", name, b.srv.Kind)
		}
		full = dir + "/" + name
	}
	rec, err := Parse(full)
	if err != nil {
		b.tb.Fatalf("replay: %v", err)
	}
	return rec
}

func fixtureDir(kind string) string {
	switch kind {
	case "llamacpp", "llama.cpp":
		return "llama.cpp"
	case "ollama":
		return "ollama"
	}
	return ""
}

func checkRoute(tb testing.TB, route string) {
	tb.Helper()
	method, p, ok := strings.Cut(route, " ")
	if !ok || method == "" || !strings.HasPrefix(p, "/") {
		tb.Fatalf("replay: route %q is not \"METHOD /path\"", route)
	}
}

// WithRoute answers route ("POST /v1/chat/completions") with a recording,
// replacing what the preset put there. A name without a directory is looked
// up in the server kind's directory: "apikey_chat_wrongkey" on a llamacpp
// server is "llama.cpp/apikey_chat_wrongkey.txt".
func WithRoute(route, name string) Option {
	return func(b *builder) {
		b.tb.Helper()
		checkRoute(b.tb, route)
		b.srv.routes[route] = b.load(name)
	}
}

// WithoutRoute removes a route, so that it answers like an unknown one.
func WithoutRoute(route string) Option {
	return func(b *builder) { delete(b.srv.routes, route) }
}

// WithResponse answers route with a made-up response. An empty contentType
// sends none.
func WithResponse(route string, status int, contentType, body string) Option {
	return func(b *builder) {
		b.tb.Helper()
		checkRoute(b.tb, route)
		method, p, _ := strings.Cut(route, " ")
		b.srv.routes[route] = synthesized(method, p, status, contentType, body)
	}
}

// WithFallback answers every unknown route with this response instead of
// 404 (LM Studio answers unknown routes with 200 and an error object).
func WithFallback(status int, contentType, body string) Option {
	return func(b *builder) {
		rec := synthesized("*", "/*", status, contentType, body)
		b.srv.fallback = &rec
	}
}

func synthesized(method, p string, status int, contentType, body string) Recording {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return Recording{
		Name:   "synthesized: " + method + " " + p,
		Method: method, Path: p,
		Status: status, Header: h, Body: []byte(body),
	}
}

// WithPacing waits d between the events of every event-stream body (after
// each blank line), flushing each event, the way a real server streams
// tokens.
func WithPacing(d time.Duration) Option {
	return func(b *builder) { b.srv.pacing = d }
}

// WithHangAfter makes routes send the status, the headers and the first n
// body bytes, then stall until the client goes away (which ClientGone
// reports) or the server closes. A negative n stalls before the headers.
// Without routes it applies to RouteChat and RouteMessages.
func WithHangAfter(n int, routes ...string) Option {
	return withFault(fault{kind: faultHang, n: n}, routes)
}

// WithDieAfter makes routes send the status, the headers and the first n
// body bytes, then close the connection without ending the response (the
// client reads an unexpected EOF). Without routes it applies to RouteChat
// and RouteMessages.
func WithDieAfter(n int, routes ...string) Option {
	return withFault(fault{kind: faultDie, n: max(n, 0)}, routes)
}

func withFault(f fault, routes []string) Option {
	return func(b *builder) {
		b.tb.Helper()
		if len(routes) == 0 {
			routes = []string{RouteChat, RouteMessages}
		}
		for _, r := range routes {
			checkRoute(b.tb, r)
			b.srv.faults[r] = f
		}
	}
}

// NewServer starts a server for a backend kind that answers each route
// ("GET /health") with the named recording (see WithRoute for names). It is
// closed when the test ends.
func NewServer(tb testing.TB, kind string, routes map[string]string, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		Kind:   kind,
		routes: map[string]Recording{},
		faults: map[string]fault{},
		stop:   make(chan struct{}),
		gone:   make(chan Request, 64),
	}
	b := &builder{tb: tb, srv: s}
	for route, name := range routes {
		WithRoute(route, name)(b)
	}
	for _, o := range opts {
		o(b)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Close releases stalled handlers and shuts the server down. It blocks
// until every handler has returned.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.Server.Close()
}

// Requests returns the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ClientGone delivers each request whose client went away (closed the
// connection or cancelled) before the server finished answering it. It is
// how a test proves that a cancel reached the server.
func (s *Server) ClientGone() <-chan Request { return s.gone }

// GoneCount is the number of requests ClientGone has reported.
func (s *Server) GoneCount() int { return int(s.goneN.Load()) }

func (s *Server) noteGone(req Request) {
	s.goneN.Add(1)
	select {
	case s.gone <- req:
	default: // nobody is reading; the count still says it
	}
}

// hopHeaders are recorded headers the replay does not copy: they described
// the recorded connection, and Go's server writes its own.
var hopHeaders = map[string]bool{
	"Content-Length":    true,
	"Transfer-Encoding": true,
	"Connection":        true,
	"Keep-Alive":        true,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	route := req.Route()
	rec, ok := s.routes[route]
	if !ok {
		if s.fallback == nil {
			http.NotFound(w, r)
			return
		}
		rec = *s.fallback
	}
	f := s.faults[route]
	if f.kind == faultHang && f.n < 0 {
		s.stall(r, req)
		return
	}

	for k, v := range rec.Header {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			w.Header()[k] = v
		}
	}
	sse := rec.IsSSE()
	payload := rec.Body
	if f.kind != 0 && f.n < len(payload) {
		payload = payload[:f.n]
	}
	if !sse && f.kind == 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	}
	w.WriteHeader(rec.Status)
	if !s.write(w, r, req, payload, sse) {
		return
	}

	rc := http.NewResponseController(w)
	switch f.kind {
	case faultHang:
		_ = rc.Flush()
		s.stall(r, req)
	case faultDie:
		_ = rc.Flush()
		conn, _, err := rc.Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// write sends payload, an event at a time when pacing an event stream. It
// reports false when the client went away first.
func (s *Server) write(w http.ResponseWriter, r *http.Request, req Request, payload []byte, sse bool) bool {
	if s.pacing <= 0 || !sse {
		if _, err := w.Write(payload); err != nil {
			s.noteGone(req)
			return false
		}
		return true
	}
	rc := http.NewResponseController(w)
	for len(payload) > 0 {
		n := len(payload)
		if i := bytes.Index(payload, []byte("\n\n")); i >= 0 {
			n = i + 2
		}
		if _, err := w.Write(payload[:n]); err != nil {
			s.noteGone(req)
			return false
		}
		_ = rc.Flush()
		payload = payload[n:]
		if len(payload) == 0 {
			break
		}
		t := time.NewTimer(s.pacing)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.noteGone(req)
			return false
		case <-s.stop:
			t.Stop()
			return false
		}
	}
	return true
}

// stall blocks until the client goes away or the server closes.
func (s *Server) stall(r *http.Request, req Request) {
	select {
	case <-r.Context().Done():
		s.noteGone(req)
	case <-s.stop:
	}
}
