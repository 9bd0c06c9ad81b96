package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve serves the metrics on addr (host:port) at /metrics, and a plain
// "ok" at /healthz for container probes, until ctx ends. It blocks. It
// returns an error when addr cannot be bound; after that, nil once ctx has
// ended and the server has shut down.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	return m.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened; it closes it.
func (m *Metrics) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	shutDown := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(shutDown)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	err := srv.Serve(ln)
	if !stop() { // ctx ended: wait for the shutdown to finish
		<-shutDown
		return nil
	}
	srv.Close()
	return fmt.Errorf("serve metrics: %w", err)
}
