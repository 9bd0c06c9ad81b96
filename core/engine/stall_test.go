package engine

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// stallingConn is the agent's end of the coordinator connection. Once
// stalled, its writes block as they do when the coordinator stops reading
// and the socket buffers are full; closing it ends them.
type stallingConn struct {
	net.Conn
	stall  <-chan struct{} // closed: writes block
	closed chan struct{}
	once   sync.Once
}

func (c *stallingConn) Write(b []byte) (int, error) {
	select {
	case <-c.stall:
		<-c.closed
		return 0, net.ErrClosed
	default:
		return c.Conn.Write(b)
	}
}

func (c *stallingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestControlsReturnWhileTheCoordinatorStalls: Start, Pause,
// SetModelEnabled and UpdateConfig return at once even when the
// coordinator has stopped reading, since capabilities go out from the
// engine's own goroutine.
func TestControlsReturnWhileTheCoordinatorStalls(t *testing.T) {
	stall := make(chan struct{})
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallingConn{Conn: c, stall: stall, closed: make(chan struct{})}, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	llama, ollama := replay.LlamaCpp(t), replay.Ollama(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama, ollama),
		withOptions(func(o *Options) { o.CoordinatorHTTP = &http.Client{Transport: tr} }))
	p := h.provider()
	capabilities(t, p, 0)
	h.waitState(stateIs(StateWaiting), "waiting for jobs")
	close(stall)

	const bound = time.Second // a blocked send takes the 15 s write timeout
	controls := []struct {
		name string
		call func() error
	}{
		{"SetModelEnabled off", func() error { return h.eng.SetModelEnabled("tiny", false) }},
		{"Pause", func() error { h.eng.Pause(); return nil }},
		{"Start", func() error { h.eng.Start(); return nil }},
		{"SetModelEnabled on", func() error { return h.eng.SetModelEnabled("tiny", true) }},
		{"UpdateConfig", func() error {
			return h.eng.UpdateConfig(func(c *config.Config) { c.Limits.MaxConcurrent = 4 })
		}},
	}
	for _, c := range controls {
		done := make(chan error, 1)
		begin := time.Now()
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		case <-time.After(bound):
			t.Fatalf("%s still blocked after %v while the coordinator stalls", c.name, bound)
		}
		t.Logf("%s returned in %v", c.name, time.Since(begin).Round(time.Microsecond))
	}
	// The state the user asked for is there at once, whatever the socket does.
	if s := h.eng.Snapshot(); s.State == StatePaused || h.eng.Config().Limits.MaxConcurrent != 4 {
		t.Fatalf("after the controls: state %v, max_concurrent %d", s.State, h.eng.Config().Limits.MaxConcurrent)
	}
	p.Drop() // ends the stalled connection, so the engine can stop
}
