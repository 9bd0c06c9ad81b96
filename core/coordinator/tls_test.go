package coordinator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// startTLSCoord is the coordinator stand-in behind TLS, as the real one is
// (wss://), and a client that trusts its certificate.
func startTLSCoord(t *testing.T) (*localcoord.Server, *httptest.Server, string) {
	t.Helper()
	srv := localcoord.New(localcoord.Options{})
	hs := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, hs, "wss" + strings.TrimPrefix(hs.URL, "https") + "/provider/connect"
}

// sendEverySize sends frames of each WebSocket length form and checks the
// coordinator read them all, intact and in order.
func sendEverySize(t *testing.T, s *Session, p *localcoord.Provider) {
	t.Helper()
	ctx := t.Context()
	var want []string
	for i, n := range []int{1, 90, 200, 5000, 70000, 3} {
		frame := fmt.Sprintf(`{"type":"note","n":%d,"pad":"%s"}`, i, strings.Repeat("y", n))
		want = append(want, frame)
		if err := s.Send(ctx, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	got := p.Frames()
	if len(got) != len(want) {
		t.Fatalf("the coordinator read %d frames, want %d (%v)", len(got), len(want), p.Err())
	}
	for i := range want {
		if string(got[i].Raw) != want[i] {
			t.Fatalf("frame %d: the coordinator read %d bytes, want %d (or they differ)", i, len(got[i].Raw), len(want[i]))
		}
	}
}

// TestFramesGoThroughTLS: with wss:// the session's own frames are written
// into the TLS connection, not under it: the coordinator, reading through
// TLS, gets every frame intact.
func TestFramesGoThroughTLS(t *testing.T) {
	coord, hs, wsURL := startTLSCoord(t)
	o := opts(wsURL, newTestKey())
	o.AllowInsecure = false
	o.HTTPClient = hs.Client()
	s, err := Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s.held == nil {
		t.Fatal("over wss:// the session does not frame its own batches (held is nil)")
	}
	if _, ok := s.held.Conn.(*tls.Conn); !ok {
		t.Fatalf("the session writes its frames into a %T, want the TLS connection", s.held.Conn)
	}
	p, _ := coord.Next(t.Context())
	go s.Run(t.Context(), recordingHandler{})
	sendEverySize(t, s, p)
}

// connectProxy is an HTTP proxy that only tunnels (CONNECT), counting the
// tunnels it opened.
func connectProxy(t *testing.T) (*url.URL, *atomic.Int32) {
	t.Helper()
	var tunnels atomic.Int32
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		tunnels.Add(1)
		w.WriteHeader(http.StatusOK)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(ps.Close)
	u, _ := url.Parse(ps.URL)
	return u, &tunnels
}

// TestProxiedSessionLeavesFramingToTheLibrary: through a proxy the
// transport puts TLS on top of the connection it dialled, so the session
// cannot write frames into it; the library writes them, and they arrive.
func TestProxiedSessionLeavesFramingToTheLibrary(t *testing.T) {
	coord, hs, wsURL := startTLSCoord(t)
	proxyURL, tunnels := connectProxy(t)
	tr := hs.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(proxyURL)
	o := opts(wsURL, newTestKey())
	o.AllowInsecure = false
	o.HTTPClient = &http.Client{Transport: tr}
	s, err := Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := tunnels.Load(); n != 1 {
		t.Fatalf("the proxy opened %d tunnels, want 1: the session did not go through it", n)
	}
	if s.held != nil {
		t.Fatal("through a proxy the session frames its own batches into a connection the transport encrypts on top")
	}
	p, _ := coord.Next(t.Context())
	go s.Run(t.Context(), recordingHandler{})
	sendEverySize(t, s, p)
}

// TestACallersOwnTLSDialIsKept: a transport that dials TLS its own way
// keeps doing so (the session does not replace that dial with its own), and
// the library writes the frames.
func TestACallersOwnTLSDialIsKept(t *testing.T) {
	coord, hs, wsURL := startTLSCoord(t)
	tr := hs.Client().Transport.(*http.Transport).Clone()
	var dials atomic.Int32
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		conf := tr.TLSClientConfig.Clone()
		conf.NextProtos = []string{"http/1.1"}
		return (&tls.Dialer{Config: conf}).DialContext(ctx, network, addr)
	}
	o := opts(wsURL, newTestKey())
	o.AllowInsecure = false
	o.HTTPClient = &http.Client{Transport: tr}
	s, err := Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if dials.Load() != 1 || s.held != nil {
		t.Fatalf("the caller's TLS dial ran %d times (want 1), held = %v (want nil)", dials.Load(), s.held)
	}
	p, _ := coord.Next(t.Context())
	go s.Run(t.Context(), recordingHandler{})
	sendEverySize(t, s, p)
}
