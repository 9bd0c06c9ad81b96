package engine

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"usepod.ai/agent/core/backoff"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/internal/testrig/localcoord"
)

// stallProxy is a TCP proxy between the agent and the coordinator. stall
// makes the connections open at that moment stop forwarding without
// closing, like a NAT that forgot the flow or a laptop's Wi-Fi asleep;
// connections made later forward normally.
type stallProxy struct {
	ln      net.Listener
	target  string
	toCoord atomic.Int64 // bytes forwarded from the agent

	mu      sync.Mutex // guards stalled and links
	stalled map[net.Conn]bool
	links   []net.Conn
	quit    chan struct{}
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, stalled: map[net.Conn]bool{}, quit: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.links = append(p.links, c, up)
		p.mu.Unlock()
		go p.pipe(up, c, &p.toCoord)
		go p.pipe(c, up, nil)
	}
}

// pipe copies src to dst until either ends; once src is stalled, what it
// reads is dropped and nothing is closed.
func (p *stallProxy) pipe(dst, src net.Conn, count *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		stalled := p.stalled[src]
		p.mu.Unlock()
		if stalled {
			<-p.quit // hold both ends open, silent, until the test ends
			return
		}
		if n > 0 {
			if count != nil {
				count.Add(int64(n))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.links {
		p.stalled[c] = true
	}
}

func (p *stallProxy) close() {
	close(p.quit)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.links {
		c.Close()
	}
}

func (p *stallProxy) url() string { return "ws://" + p.ln.Addr().String() + "/provider/connect" }

func withProxy(p **stallProxy, t *testing.T) harnessOpt {
	return func(h *harness, o *Options) {
		*p = newStallProxy(t, strings.TrimPrefix(strings.TrimSuffix(h.url, "/provider/connect"), "ws://"))
		o.Config.Coordinator.URL = (*p).url()
	}
}

func TestSilentPathIsDroppedAndRedialled(t *testing.T) {
	const ping, pong = 200 * time.Millisecond, 300 * time.Millisecond
	var proxy *stallProxy
	h := newHarness(t, localcoord.Options{}, withProxy(&proxy, t), withOptions(func(o *Options) {
		o.PingInterval, o.PongTimeout = ping, pong
	}))
	p := h.provider()
	capabilities(t, p, 0)
	start := time.Now()
	proxy.stall()
	p2 := h.provider() // the redialled session
	took := time.Since(start)
	capabilities(t, p2, 0)
	// Silence is noticed after at most ping+pong; the retry wait returns
	// at once in this harness. A generous second covers a busy machine.
	if bound := ping + pong + time.Second; took > bound {
		t.Fatalf("a silent path took %v to be redialled, want at most %v", took, bound)
	}
	if s := h.eng.Snapshot(); !strings.Contains(s.LastError, "silent") {
		t.Fatalf("last error = %q, want it to say the path went silent", s.LastError)
	}
}

func TestHealthyIdleLinkIsNotDropped(t *testing.T) {
	const ping, pong = 100 * time.Millisecond, 300 * time.Millisecond
	var proxy *stallProxy
	h := newHarness(t, localcoord.Options{}, withProxy(&proxy, t), withOptions(func(o *Options) {
		o.PingInterval, o.PongTimeout = ping, pong
	}))
	p := h.provider()
	capabilities(t, p, 0)
	sent := proxy.toCoord.Load()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second) // 20 ping intervals of silence from the coordinator
	defer cancel()
	if p2, err := h.coord.Next(ctx); err == nil {
		t.Fatalf("a healthy idle link was dropped: new session %s", p2.ID)
	}
	if err := p.Err(); err != nil {
		t.Fatalf("the idle session ended: %v", err)
	}
	// Heartbeats are hourly in this harness: what the agent sent while
	// idle were its pings, so the check really ran.
	if proxy.toCoord.Load() == sent {
		t.Fatal("the agent sent no ping on an idle link")
	}
}

// TestDefaultsNoticeSilenceWithinAMinute: with the defaults, a path that
// dies right after a frame was read is given up after ping interval +
// pong timeout; the first retry after a session that reached auth_ok
// waits at most 1.2 × the base backoff. That must leave room for the dial
// and handshake (normally well under a second) inside the promised 60 s.
func TestDefaultsNoticeSilenceWithinAMinute(t *testing.T) {
	worstRetry := time.Duration(float64(backoff.DefaultBase) * 1.2)
	redial := coordinator.DefaultPingInterval + coordinator.DefaultPongTimeout + worstRetry
	if redial > 45*time.Second {
		t.Fatalf("a silent path is redialled %v after it died; want at most 45 s, leaving 15 s for the handshake", redial)
	}
	// And a healthy idle link is not mistaken for a dead one: the pong has
	// the whole timeout to come back.
	if coordinator.DefaultPongTimeout < 5*time.Second {
		t.Fatalf("pong timeout %v is too short for a slow link", coordinator.DefaultPongTimeout)
	}
}
