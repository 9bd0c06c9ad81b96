package engine

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// fixedPortServer serves a replay server's answers on an address chosen
// before it starts, so a configured backend URL can point at a server that
// is not running yet, or that stops and comes back on the same port.
type fixedPortServer struct {
	t       *testing.T
	addr    string
	handler http.Handler

	mu  sync.Mutex // guards srv
	srv *http.Server
}

func newFixedPortServer(t *testing.T, r *replay.Server) *fixedPortServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // free until start: connections are refused
	f := &fixedPortServer{t: t, addr: addr, handler: r.Config.Handler}
	t.Cleanup(f.stop)
	return f
}

func (f *fixedPortServer) url() string { return "http://" + f.addr }

func (f *fixedPortServer) start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("listen again on %s: %v", f.addr, err)
	}
	srv := &http.Server{Handler: f.handler}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go srv.Serve(ln)
}

func (f *fixedPortServer) stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func modelRow(s Snapshot, id string) (ModelStatus, bool) {
	for _, m := range s.Models {
		if m.ID == id {
			return m, true
		}
	}
	return ModelStatus{}, false
}

// A server started after the agent shows up within a few seconds, not at
// the next minute's discovery.
func TestServerStartedLateShowsUpWithinSeconds(t *testing.T) {
	late := newFixedPortServer(t, replay.LlamaCpp(t))
	h := newHarness(t, localcoord.Options{},
		withConfig(func(c *config.Config) { c.Backends = []config.Backend{{Kind: "llamacpp", URL: late.url()}} }),
		withOptions(func(o *Options) { o.DiscoveryInterval = DefaultDiscoveryInterval }))
	h.waitState(func(s Snapshot) bool {
		return s.State == StateNoBackends && len(s.Backends) == 1 && !s.Backends[0].Healthy
	}, "the server probed and found down")
	late.start()
	start := time.Now()
	s := h.waitState(func(s Snapshot) bool { _, ok := modelRow(s, "tiny"); return ok }, "the late server's model")
	if took := time.Since(start); took > 2*DefaultDiscoveryRetryInterval+2*time.Second {
		t.Errorf("the model showed up after %v, want within about %v", took, DefaultDiscoveryRetryInterval)
	}
	if m, _ := modelRow(s, "tiny"); !m.Healthy {
		t.Errorf("row %+v, want healthy", m)
	}
}

// Once models are found, discovery slows to the normal interval. The
// engine's discovery runs in a synctest bubble against a llama.cpp server
// in memory: fifty retry intervals pass at once, and synctest.Wait makes
// sure no probe is still on its way when the listings are counted.
func TestDiscoverySlowsDownOnceModelsAreFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var listings atomic.Int32
		cfg := config.Default()
		cfg.Backends = []config.Backend{{Kind: config.KindLlamaCpp, URL: "http://llama.test:8080"}}
		e, err := New(Options{
			Config: cfg, KeyStore: &keystore.MemStore{}, Ledger: noLedger{},
			BackendHTTP:       memLlamaCpp(&listings),
			DiscoveryInterval: time.Hour, DiscoveryRetryInterval: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		e.discover(ctx) // as Run does before it starts the loop
		done := make(chan struct{})
		go func() { e.discoveryLoop(ctx); close(done) }()

		time.Sleep(50 * 20 * time.Millisecond)
		synctest.Wait()
		if n := listings.Load(); n != 1 {
			t.Errorf("the server was listed %d times in fifty retry intervals, want once (models found: the hourly interval applies)", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := listings.Load(); n != 2 {
			t.Errorf("the server was listed %d times after an hour, want twice", n)
		}
		cancel()
		<-done
	})
}

// memLlamaCpp is a llama.cpp server serving the model "tiny", in memory
// (no socket, so it works in a synctest bubble); it counts the listings.
func memLlamaCpp(listings *atomic.Int32) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		status, body := http.StatusNotFound, `{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}`
		switch r.URL.Path {
		case "/health":
			status, body = http.StatusOK, `{"status":"ok"}`
		case "/v1/models":
			listings.Add(1)
			status, body = http.StatusOK, `{"object":"list","data":[{"id":"tiny","object":"model"}]}`
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// noLedger is an engine's ledger that records nothing; for tests that
// run no job.
type noLedger struct{}

func (noLedger) Record(context.Context, ledger.Entry) error { return nil }
func (noLedger) Totals(context.Context, time.Time) (ledger.Totals, error) {
	return ledger.Totals{}, nil
}
func (noLedger) Hourly(context.Context, time.Time, int) ([]ledger.HourBucket, error) {
	return nil, nil
}

// A server that goes down keeps its rows, marked down since when and not
// offered, and comes back by itself.
func TestDownServerKeepsItsModelsAndComesBack(t *testing.T) {
	llama := replay.LlamaCpp(t)
	ollama := newFixedPortServer(t, replay.Ollama(t))
	ollama.start()
	h := newHarness(t, localcoord.Options{},
		withBackends(llama),
		withConfig(func(c *config.Config) {
			c.Backends = append(c.Backends, config.Backend{Kind: "ollama", URL: ollama.url()})
		}),
		withOptions(func(o *Options) {
			o.DiscoveryInterval = 100 * time.Millisecond
			o.DiscoveryRetryInterval = 100 * time.Millisecond
		}))
	p := h.provider()
	caps, i := capabilities(t, p, 0)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny", "tiny:latest"}) {
		t.Fatalf("offered %v", caps.ModelIDs())
	}

	before := time.Now()
	ollama.stop()
	caps, i = capabilities(t, p, i+1)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny"}) {
		t.Fatalf("after ollama went down, offered %v", caps.ModelIDs())
	}
	s := h.waitState(func(s Snapshot) bool { m, ok := modelRow(s, "tiny:latest"); return ok && !m.Healthy }, "ollama's model kept, marked down")
	m, _ := modelRow(s, "tiny:latest")
	if m.Offered || m.DownSince.IsZero() || m.DownSince.Before(before.Add(-time.Second)) || m.Backend != "ollama" || m.BackendURL != ollama.url() {
		t.Errorf("down row = %+v, want not offered, down since about %v, from ollama at %s", m, before, ollama.url())
	}
	if m, _ := modelRow(s, "tiny"); !m.Healthy || !m.DownSince.IsZero() {
		t.Errorf("the healthy server's row = %+v", m)
	}

	ollama.start()
	caps, _ = capabilities(t, p, i+1)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny", "tiny:latest"}) {
		t.Fatalf("after ollama came back, offered %v", caps.ModelIDs())
	}
	s = h.waitState(func(s Snapshot) bool { m, _ := modelRow(s, "tiny:latest"); return m.Healthy && m.Offered }, "ollama's model back")
	if m, _ := modelRow(s, "tiny:latest"); !m.DownSince.IsZero() {
		t.Errorf("row back up = %+v, want DownSince cleared", m)
	}
}
