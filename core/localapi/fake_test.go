package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/telemetry"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childAddrEnv); addr != "" {
		childMain(addr) // the test binary re-executed as another user
		return
	}
	goleak.VerifyTestMain(m)
}

// childAddrEnv makes the test binary a client that asks addr for the
// status and prints what came of it as JSON.
const childAddrEnv = "LOCALAPI_TEST_CHILD_ADDR"

type childResult struct {
	Err       string `json:"err"`
	Forbidden bool   `json:"forbidden"` // errors.Is(err, ErrForbidden)
	Status    int    `json:"status"`    // the HTTP status of the answer; 0 when none
	Code      string `json:"code"`      // the answer's code
	NoAnswer  bool   `json:"no_answer"` // the OS refused the connection
	PID       int    `json:"pid"`       // the status's pid when allowed
}

func childMain(addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := NewClient(addr).Status(ctx)
	var r childResult
	if err != nil {
		r.Err = err.Error()
		r.Forbidden = errors.Is(err, ErrForbidden)
		var ae *Error
		if errors.As(err, &ae) {
			r.Status, r.Code = ae.Status, ae.Code
		} else {
			r.NoAnswer = true
		}
	} else {
		r.PID = st.PID
	}
	json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(0)
}

// fakeEngine is a hand-written Engine: it keeps a snapshot and a config,
// counts the controls and, like the real engine, hands watchers the
// newest snapshot without ever blocking.
type fakeEngine struct {
	mu       sync.Mutex // guards the fields below
	snap     engine.Snapshot
	cfg      config.Config
	watchers map[chan engine.Snapshot]struct{}
	starts   int
	pauses   int
	switches []modelSwitch
	health   []backend.Health
	failNext error // returned once by the next UpdateConfig/SetModelEnabled
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		snap: engine.Snapshot{
			State: engine.StateWaiting, Coordinator: "wss://coord.example/provider/connect", ProviderID: "prov-1",
			PublicKey: "cHVibGlj", KeyWhere: "the system keyring", JobsServed: 3,
			Models:   []engine.ModelStatus{{ID: "tiny", Backend: "llamacpp", BackendURL: "http://127.0.0.1:8080", Healthy: true, Enabled: true, Offered: true, InputPer1M: 100000, OutputPer1M: 300000}},
			Backends: []engine.BackendStatus{{Kind: "llamacpp", URL: "http://127.0.0.1:8080", Healthy: true, Models: 1}},
			Earnings: ledger.Totals{TotalMicro: 42, Jobs: 3, Models: []ledger.ModelTotal{{Model: "tiny", Jobs: 3, TotalMicro: 42}}},
			RetryAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		},
		cfg:      config.Default(),
		watchers: map[chan engine.Snapshot]struct{}{},
		health: []backend.Health{
			{Server: backend.Server{Kind: "ollama", URL: "http://127.0.0.1:11434"}, Healthy: true, Models: []backend.Model{{ID: "tiny:latest", ContextWindow: 4096}}},
			{Server: backend.Server{Kind: "vllm", URL: "http://127.0.0.1:8000"}, Err: errors.New("nothing answers on port 8000")},
		},
	}
}

func (f *fakeEngine) Watch(ctx context.Context) <-chan engine.Snapshot {
	ch := make(chan engine.Snapshot, 1)
	f.mu.Lock()
	ch <- f.snap
	f.watchers[ch] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		delete(f.watchers, ch)
		close(ch)
		f.mu.Unlock()
	})
	return ch
}

// publish changes the snapshot and hands it to every watcher, newest wins.
func (f *fakeEngine) publish(edit func(*engine.Snapshot)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(&f.snap)
	for ch := range f.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- f.snap
	}
}

func (f *fakeEngine) watcherCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers)
}

func (f *fakeEngine) Snapshot() engine.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeEngine) Start() { f.mu.Lock(); f.starts++; f.mu.Unlock() }
func (f *fakeEngine) Pause() { f.mu.Lock(); f.pauses++; f.mu.Unlock() }

func (f *fakeEngine) counts() (starts, pauses int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.pauses
}

func (f *fakeEngine) takeFailure() error {
	err := f.failNext
	f.failNext = nil
	return err
}

func (f *fakeEngine) SetModelEnabled(model string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return err
	}
	f.switches = append(f.switches, modelSwitch{Model: model, Enabled: on})
	f.cfg.SetModelEnabled(model, on)
	return nil
}

func (f *fakeEngine) Config() config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.Clone()
}

// UpdateConfig validates like the engine and refuses an invalid result.
func (f *fakeEngine) UpdateConfig(edit func(*config.Config)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return err
	}
	next := f.cfg.Clone()
	edit(&next)
	if err := next.Validate(); err != nil {
		return err
	}
	f.cfg = next
	return nil
}

func (f *fakeEngine) Detect(ctx context.Context) []backend.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

type fakeHardware struct {
	mu      sync.Mutex // guards watched
	watched int
	samples []telemetry.Sample
}

func (h *fakeHardware) Latest() (telemetry.Sample, bool) {
	if len(h.samples) == 0 {
		return telemetry.Sample{}, false
	}
	return h.samples[len(h.samples)-1], true
}

func (h *fakeHardware) History(n int) []telemetry.Sample {
	if n <= 0 || n > len(h.samples) {
		return h.samples
	}
	return h.samples[len(h.samples)-n:]
}

func (h *fakeHardware) Watched() { h.mu.Lock(); h.watched++; h.mu.Unlock() }

// shortDir is a temporary directory with a path short enough for a socket
// (t.TempDir's names grow with the test's name).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "la")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// served is one server on a real Unix socket and a client for it.
type served struct {
	addr   string
	srv    *Server
	client *Client
	cancel context.CancelFunc
	done   chan error
}

// serve starts a server with o on a fresh socket; cleanup stops it and
// checks that Serve returned nil.
func serve(t *testing.T, o ServerOptions, tweak ...func(*Server)) *served {
	t.Helper()
	return serveAt(t, testAddress(t), o, tweak...)
}

// serveAt is serve at a given address.
func serveAt(t *testing.T, addr string, o ServerOptions, tweak ...func(*Server)) *served {
	t.Helper()
	ln, err := Listen(addr, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	s := &served{addr: addr, srv: NewServer(o), client: NewClient(addr), done: make(chan error, 1)}
	for _, f := range tweak {
		f(s.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- s.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the server and waits for Serve; a second stop is a no-op.
func (s *served) stop(t *testing.T) {
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		if ok {
			close(s.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	s.client.Close()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls ok until it holds or 10 s pass.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
