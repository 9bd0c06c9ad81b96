package explain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/replay"
)

// connect dials url as the engine does and returns the error it met. The
// handshake timeout is long enough for a loaded test machine.
func connect(t *testing.T, url string, client *http.Client) error {
	t.Helper()
	return connectWithin(t, url, client, 5*time.Second)
}

// connectWithin is connect with a handshake timeout, for the cases that
// wait for it to pass.
func connectWithin(t *testing.T, url string, client *http.Client, timeout time.Duration) error {
	t.Helper()
	id, err := identity.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = coordinator.Connect(t.Context(), coordinator.Options{
		URL: url, AllowInsecure: true, Identity: id, AgentVersion: "0.0.0-test",
		EnrollmentCode: "POD-ENROLL-TEST0001", HTTPClient: client, HandshakeTimeout: timeout,
	})
	if err == nil {
		t.Fatalf("connecting to %s succeeded", url)
	}
	return err
}

func wsURL(s *httptest.Server) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/provider/connect"
}

// fakeCoordinator starts a WebSocket server that runs script on each
// connection; t's cleanup stops it.
func fakeCoordinator(t *testing.T, script func(ctx context.Context, c *websocket.Conn)) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		script(r.Context(), c)
	}))
	t.Cleanup(s.Close)
	return s
}

// challengeThen sends auth_challenge, reads auth_response and sends reply.
func challengeThen(reply string) func(context.Context, *websocket.Conn) {
	return func(ctx context.Context, c *websocket.Conn) {
		c.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_challenge","nonce":"AAAAAAAAAAAAAAAAAAAAAA=="}`))
		c.Read(ctx)
		c.Write(ctx, websocket.MessageText, []byte(reply))
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// failingResolverClient resolves every name with a DNS server that does not
// exist, as a computer without a working network does.
func failingResolverClient() *http.Client {
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no route to the DNS server")
	}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Resolver: resolver}).DialContext
	return &http.Client{Transport: t}
}

func statusServer(t *testing.T, status int) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, http.StatusText(status), status)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestErrorsInPlainWords holds every class of raw error a user can meet,
// produced by a real failure where one can be made here, to its words.
func TestErrorsInPlainWords(t *testing.T) {
	tests := []struct {
		name      string
		err       func(t *testing.T) error
		kind      Kind
		summary   string // Summary contains it
		action    string // Action contains it
		detailHas string // Detail (the raw text) contains it
	}{
		{name: "DNS failure",
			err: func(t *testing.T) error {
				return connect(t, "ws://api.usepod.invalid/provider/connect", failingResolverClient())
			},
			kind: KindNetwork, summary: "Can't reach Use Pod", action: "internet connection", detailHas: "lookup api.usepod.invalid"},
		{name: "connection refused",
			err:  func(t *testing.T) error { return connect(t, "ws://"+closedPort(t)+"/provider/connect", nil) },
			kind: KindNetwork, summary: "Use Pod refused the connection", action: "restarting", detailHas: "refused"},
		{name: "TLS certificate not trusted",
			err: func(t *testing.T) error {
				s := httptest.NewTLSServer(http.NotFoundHandler())
				t.Cleanup(s.Close)
				return connect(t, "wss"+strings.TrimPrefix(s.URL, "https"), nil)
			},
			kind: KindNetwork, summary: "secure connection", action: "date and time", detailHas: "certificate"},
		{name: "no answer to the upgrade (timeout)",
			err: func(t *testing.T) error {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				go func() { // accept and say nothing
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						t.Cleanup(func() { c.Close() })
					}
				}()
				return connectWithin(t, "ws://"+ln.Addr().String()+"/provider/connect", nil, 300*time.Millisecond)
			},
			kind: KindNetwork, summary: "Use Pod isn't answering", action: "internet connection", detailHas: "deadline"},
		{name: "HTTP 503 on the upgrade",
			err:  func(t *testing.T) error { return connect(t, wsURL(statusServer(t, 503)), nil) },
			kind: KindCoordinator, summary: "Use Pod is having trouble (HTTP 503)", action: "keeps trying", detailHas: "503"},
		{name: "HTTP 404 on the upgrade",
			err:  func(t *testing.T) error { return connect(t, wsURL(statusServer(t, 404)), nil) },
			kind: KindCoordinator, summary: "no Use Pod service at this address (HTTP 404)", action: "coordinator address", detailHas: "404"},
		{name: "HTTP 403 on the upgrade",
			err:  func(t *testing.T) error { return connect(t, wsURL(statusServer(t, 403)), nil) },
			kind: KindCoordinator, summary: "refused this agent's connection (HTTP 403)", action: "newest version", detailHas: "403"},
		{name: "HTTP 429 on the upgrade",
			err:  func(t *testing.T) error { return connect(t, wsURL(statusServer(t, 429)), nil) },
			kind: KindCoordinator, summary: "Use Pod is busy (HTTP 429)", action: "keeps trying", detailHas: "429"},
		{name: "handshake timeout: no challenge",
			err: func(t *testing.T) error {
				return connectWithin(t, wsURL(fakeCoordinator(t, func(ctx context.Context, c *websocket.Conn) { <-ctx.Done() })), nil, 300*time.Millisecond)
			},
			kind: KindCoordinator, summary: "didn't finish signing this agent in", action: "keeps trying", detailHas: "handshake"},
		{name: "handshake: not a challenge",
			err: func(t *testing.T) error {
				return connect(t, wsURL(fakeCoordinator(t, func(ctx context.Context, c *websocket.Conn) {
					c.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_ok","provider_id":"x"}`))
					<-ctx.Done()
				})), nil)
			},
			kind: KindCoordinator, summary: "doesn't understand", action: "newest version", detailHas: "not auth_challenge"},
		{name: "auth_failed with the coordinator's reason",
			err: func(t *testing.T) error {
				return connect(t, wsURL(fakeCoordinator(t, challengeThen(`{"type":"auth_failed","reason":"enrollment code already used"}`))), nil)
			},
			kind: KindEnrollment, summary: "turned this agent away: enrollment code already used", action: "new enrollment code", detailHas: "enrollment code already used"},
		{name: "coordinator closes during the handshake (policy)",
			err: func(t *testing.T) error {
				return connect(t, wsURL(fakeCoordinator(t, func(ctx context.Context, c *websocket.Conn) {
					c.Close(websocket.StatusPolicyViolation, "too many connections")
				})), nil)
			},
			kind: KindCoordinator, summary: "Use Pod ended the session: too many connections", action: "reconnects by itself", detailHas: "StatusPolicyViolation"},
		{name: "coordinator restarting closes the session (1012)",
			err:  func(t *testing.T) error { return sessionEnd(t, websocket.StatusServiceRestart, "deploy") },
			kind: KindCoordinator, summary: "Use Pod is restarting", action: "keeps trying", detailHas: "deploy"},
		{name: "coordinator fails and closes the session (1011)",
			err:  func(t *testing.T) error { return sessionEnd(t, websocket.StatusInternalError, "oops") },
			kind: KindCoordinator, summary: "had a problem and ended the session: oops", action: "keeps trying", detailHas: "StatusInternalError"},
		{name: "an unknown close code",
			err:  func(t *testing.T) error { return sessionEnd(t, 4009, "replaced by a newer connection") },
			kind: KindCoordinator, summary: "ended the session (code 4009): replaced by a newer connection", action: "reconnects", detailHas: "4009"},
		{name: "the connection drops mid-session",
			err: func(t *testing.T) error {
				return sessionEndWith(t, func(c *websocket.Conn) { c.CloseNow() })
			},
			kind: KindNetwork, summary: "dropped", action: "internet connection", detailHas: "coordinator connection"},
		{name: "coordinator URL not wss",
			err:  func(t *testing.T) error { return coordinator.CheckURL("http://api.usepod.ai/provider/connect", false) },
			kind: KindSettings, summary: "coordinator address is not valid", action: "wss://", detailHas: "http://api.usepod.ai"},
		{name: "keychain locked or missing",
			// No keychain can be locked here: the error as the identity package wraps it.
			err: func(t *testing.T) error {
				return fmt.Errorf("read identity key: %w: no answer within 10s (a locked keychain waiting for its password?)", identity.ErrKeychainUnavailable)
			},
			kind: KindKeyStore, summary: "keychain isn't answering", action: "--keyring file", detailHas: "locked keychain"},
		{name: "ledger file damaged",
			err: func(t *testing.T) error {
				path := filepath.Join(t.TempDir(), "ledger.db")
				if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
					t.Fatal(err)
				}
				l, err := ledger.Open(path)
				if err == nil {
					l.Close()
					t.Fatal("a garbage ledger opened")
				}
				return err
			},
			kind: KindLedger, summary: "earnings file is damaged", action: "rename ledger.db", detailHas: "ledger.db"},
		{name: "ledger folder not writable",
			err: func(t *testing.T) error {
				notADir := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(notADir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				l, err := ledger.Open(filepath.Join(notADir, "ledger.db"))
				if err == nil {
					l.Close()
					t.Fatal("a ledger opened inside a file")
				}
				return err
			},
			kind: KindLedger, summary: "can't write its earnings file", action: "may write", detailHas: "ledger"},
		{name: "config syntax error",
			err: func(t *testing.T) error {
				path := filepath.Join(t.TempDir(), "agent.toml")
				if err := os.WriteFile(path, []byte("[limits]\nmax_concurrent = \"eight\"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				f, err := config.LoadFile(path)
				if err == nil {
					err = f.Validate()
				}
				if err == nil {
					t.Fatal("a bad config loaded")
				}
				return err
			},
			kind: KindSettings, summary: "settings file has a mistake", action: "Fix the line", detailHas: "max_concurrent"},
		{name: "settings file cannot be written",
			err: func(t *testing.T) error {
				notADir := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(notADir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				err := config.Save(filepath.Join(notADir, "agent.toml"), config.Default())
				if err == nil {
					t.Fatal("saved inside a file")
				}
				return fmt.Errorf("save settings: %w", err) // as engine.UpdateConfig words it
			},
			kind: KindSettings, summary: "settings could not be saved", action: "may write", detailHas: "not a directory"},
		{name: "config invalid value",
			err: func(t *testing.T) error {
				c := config.Default()
				c.Limits.MaxConcurrent = 0
				err := c.Validate()
				if err == nil {
					t.Fatal("max_concurrent 0 validated")
				}
				return err
			},
			kind: KindSettings, summary: "settings file has a mistake", action: "Fix the line", detailHas: "max_concurrent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			p := Error(err)
			if p.Kind != tt.kind || !strings.Contains(p.Summary, tt.summary) || !strings.Contains(p.Action, tt.action) ||
				!strings.Contains(p.Detail, tt.detailHas) {
				t.Errorf("Error(%q)\n = %+v\nwant kind %q, summary with %q, action with %q, detail with %q",
					err, p, tt.kind, tt.summary, tt.action, tt.detailHas)
			}
			if p.Detail != err.Error() {
				t.Errorf("Detail = %q, want the raw text %q", p.Detail, err.Error())
			}
			for _, jargon := range []string{"dial", "tcp", "WebSocket", "handshake", "x509", "sqlite", "EOF"} {
				if strings.Contains(p.Summary+p.Action, jargon) {
					t.Errorf("plain words %q / %q carry %q", p.Summary, p.Action, jargon)
				}
			}
		})
	}
}

// sessionEnd completes a handshake, then has the coordinator close the
// session with code and reason; it returns what Session.Run returned.
func sessionEnd(t *testing.T, code websocket.StatusCode, reason string) error {
	return sessionEndWith(t, func(c *websocket.Conn) { c.Close(code, reason) })
}

func sessionEndWith(t *testing.T, end func(*websocket.Conn)) error {
	t.Helper()
	s := fakeCoordinator(t, func(ctx context.Context, c *websocket.Conn) {
		challengeThen(`{"type":"auth_ok","provider_id":"p1"}`)(ctx, c)
		time.Sleep(50 * time.Millisecond)
		end(c)
	})
	id, err := identity.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sess, err := coordinator.Connect(t.Context(), coordinator.Options{
		URL: wsURL(s), AllowInsecure: true, Identity: id, AgentVersion: "0.0.0-test", EnrollmentCode: "POD-ENROLL-TEST0001",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = sess.Run(t.Context(), nopHandler{})
	if err == nil {
		t.Fatal("the session ended without an error")
	}
	return err
}

type nopHandler struct{}

func (nopHandler) HandleJob(coordinator.Job)          {}
func (nopHandler) HandleCancel(coordinator.JobCancel) {}

// TestBackendsInPlainWords holds real probe failures of inference servers
// to their words.
func TestBackendsInPlainWords(t *testing.T) {
	probe := func(kind, url string, apiKey string) error {
		h := (&backend.Client{ProbeTimeout: 2 * time.Second}).Probe(t.Context(), backend.Server{Kind: kind, URL: url, APIKey: apiKey})
		if h.Healthy {
			t.Fatalf("%s at %s is healthy", kind, url)
		}
		return h.Err
	}
	tests := []struct {
		name, kind, url string
		err             func() error
		summary, action string
	}{
		{name: "not running (refused)", kind: "ollama", url: "http://" + closedPort(t),
			summary: "Ollama isn't running at 127.0.0.1:", action: "Start Ollama"},
		{name: "wants an API key (401)", kind: "llamacpp",
			url:     replay.LlamaCpp(t, replay.WithRoute("GET /v1/models", "apikey_chat_wrongkey")).URL,
			summary: "wants an API key", action: "Set it in this backend's settings."},
		{name: "not that kind of server (404)", kind: "llamacpp", url: replay.Ollama(t).URL,
			summary: "answered GET /health with HTTP 404", action: "Another program may be using this port"},
		{name: "still loading (503)", kind: "llamacpp",
			url:     replay.LlamaCpp(t, replay.WithRoute("GET /health", "health_loading")).URL,
			summary: "is still loading its model", action: "Wait for it to finish loading"},
		{name: "engine dead (503)", kind: "vllm",
			url:     replay.VLLM(t, replay.WithResponse("GET /health", 503, "", "")).URL,
			summary: "its engine has stopped", action: "Restart vLLM."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := probe(tt.kind, tt.url, "")
			p := Backend(tt.kind, tt.url, err)
			if p.Kind != KindBackend || !strings.Contains(p.Summary, tt.summary) || !strings.Contains(p.Action, tt.action) || !strings.Contains(p.Detail, err.Error()) {
				t.Errorf("Backend(%q)\n = %+v\nwant summary with %q, action with %q", err, p, tt.summary, tt.action)
			}
		})
	}

	t.Run("no backends found on the usual ports", func(t *testing.T) {
		err := probe("ollama", "http://"+closedPort(t), "")
		p := NoBackends([]Server{{Kind: "ollama", URL: "http://localhost:11434", Err: err}}, false)
		if p.Summary != "No inference server found" || !strings.Contains(p.Action, "within a few seconds") {
			t.Errorf("NoBackends = %+v", p)
		}
	})
	t.Run("a configured server not running", func(t *testing.T) {
		url := "http://" + closedPort(t)
		p := NoBackends([]Server{{Kind: "ollama", URL: url, Configured: true, Err: probe("ollama", url, "")}}, false)
		if !strings.Contains(p.Summary, "Ollama isn't running") {
			t.Errorf("NoBackends = %+v", p)
		}
	})
	t.Run("a server that answers but is unusable wins", func(t *testing.T) {
		loading := replay.LlamaCpp(t, replay.WithRoute("GET /health", "health_loading")).URL
		down := "http://" + closedPort(t)
		p := NoBackends([]Server{
			{Kind: "ollama", URL: down, Configured: true, Err: probe("ollama", down, "")},
			{Kind: "llamacpp", URL: loading, Configured: true, Err: probe("llamacpp", loading, "")},
		}, false)
		if !strings.Contains(p.Summary, "still loading") {
			t.Errorf("NoBackends = %+v", p)
		}
	})
	t.Run("every model switched off", func(t *testing.T) {
		if p := NoBackends(nil, true); !strings.Contains(p.Summary, "switched off") {
			t.Errorf("NoBackends = %+v", p)
		}
	})
}

func TestStatesInPlainWords(t *testing.T) {
	if p := NeedsEnrollment(); p.Kind != KindEnrollment || !strings.Contains(p.Action, "enrollment code") {
		t.Errorf("NeedsEnrollment = %+v", p)
	}
	if p := Rejected(" code expired "); p.Summary != "Use Pod turned this agent away: code expired" {
		t.Errorf("Rejected = %+v", p)
	}
}

func TestTextCountsDownToTheRetry(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := Problem{Summary: "Can't reach Use Pod", Action: "Check this computer's internet connection.", RetryAt: now.Add(16500 * time.Millisecond)}
	if got, want := p.Text(now), "Can't reach Use Pod — check this computer's internet connection. Retrying in 17 s."; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	p.RetryAt = now.Add(-time.Second)
	if got := p.Text(now); !strings.HasSuffix(got, "Retrying now.") {
		t.Errorf("Text past the retry = %q", got)
	}
	p.RetryAt = time.Time{}
	if got := p.Text(now); strings.Contains(got, "Retrying") {
		t.Errorf("Text with no retry = %q", got)
	}
	if (Problem{}).Text(now) != "" || !(Problem{}).IsZero() {
		t.Error("no problem should read as nothing")
	}
}
