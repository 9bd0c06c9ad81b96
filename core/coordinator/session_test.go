package coordinator

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
)

type testKey struct{ priv ed25519.PrivateKey }

func newTestKey() testKey {
	_, priv, _ := ed25519.GenerateKey(nil)
	return testKey{priv}
}
func (k testKey) PublicBase64() string {
	return base64.StdEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey))
}
func (k testKey) Sign(n []byte) []byte { return ed25519.Sign(k.priv, n) }

func startCoord(t *testing.T, o localcoord.Options) (*localcoord.Server, string) {
	t.Helper()
	srv := localcoord.New(o)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
}

func opts(url string, key Signer) Options {
	return Options{URL: url, AllowInsecure: true, Identity: key, AgentVersion: "1.2.3", EnrollmentCode: "POD-ENROLL-TEST0001", HandshakeTimeout: 5 * time.Second}
}

func TestHandshakeEnrollsThenReconnectsWithoutCode(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{EnrollmentCodes: []string{"POD-ENROLL-TEST0001"}})
	key := newTestKey()
	ctx := t.Context()

	s, err := Connect(ctx, opts(url, key))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	p, _ := coord.Next(ctx)
	if p.EnrollmentCode != "POD-ENROLL-TEST0001" || p.AgentVersion != "1.2.3" || p.PubKey != key.PublicBase64() {
		t.Fatalf("coordinator saw %+v", p)
	}
	if s.ProviderID() == "" || s.ProviderID() != coord.ProviderIDFor(key.PublicBase64()) {
		t.Fatalf("provider id %q", s.ProviderID())
	}
	s.Close()

	o := opts(url, key)
	o.ProviderID = s.ProviderID()
	s2, err := Connect(ctx, o)
	if err != nil {
		t.Fatalf("second Connect: %v", err)
	}
	defer s2.Close()
	p2, _ := coord.Next(ctx)
	if p2.EnrollmentCode != "" {
		t.Fatalf("enrollment code sent again once enrolled")
	}
	if s2.ProviderID() != s.ProviderID() {
		t.Fatalf("provider id changed: %q -> %q", s.ProviderID(), s2.ProviderID())
	}
}

// docs/protocol.md section 2 stores the id "once auth_ok carries" one: an
// auth_ok without provider_id still opens the session (section 10.2).
func TestAuthOKWithoutProviderIDIsASession(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{OmitProviderID: true})
	key := newTestKey()
	s, err := Connect(t.Context(), opts(url, key))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer s.Close()
	if s.ProviderID() != "" {
		t.Fatalf("provider id %q, want none", s.ProviderID())
	}
	p, err := coord.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendJSON(t.Context(), map[string]string{"type": "heartbeat"}); err != nil {
		t.Fatalf("send on the session: %v", err)
	}
	if _, _, err := p.WaitFrame(t.Context(), 0, func(f localcoord.Frame) bool { return f.Type == "heartbeat" }); err != nil {
		t.Fatalf("coordinator did not get the frame: %v", err)
	}
}

func TestHandshakeFailures(t *testing.T) {
	key := newTestKey()
	t.Run("auth_failed carries the reason", func(t *testing.T) {
		_, url := startCoord(t, localcoord.Options{EnrollmentCodes: []string{"POD-ENROLL-OTHER"}})
		_, err := Connect(t.Context(), opts(url, key))
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Reason != "invalid enrollment code" {
			t.Fatalf("err = %v, want AuthError with the coordinator's reason", err)
		}
	})
	t.Run("first message not a challenge", func(t *testing.T) {
		_, url := startCoord(t, localcoord.Options{FirstFrame: []byte(`{"type":"job","job_id":"x","model_id":"m","request":{}}`)})
		_, err := Connect(t.Context(), opts(url, key))
		if err == nil || !strings.Contains(err.Error(), "not auth_challenge") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("garbage first frame", func(t *testing.T) {
		_, url := startCoord(t, localcoord.Options{FirstFrame: []byte(`hello`)})
		_, err := Connect(t.Context(), opts(url, key))
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plain ws refused without allow-insecure", func(t *testing.T) {
		_, url := startCoord(t, localcoord.Options{})
		o := opts(url, key)
		o.AllowInsecure = false
		if _, err := Connect(t.Context(), o); err == nil || !strings.Contains(err.Error(), "--allow-insecure") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		if _, err := Connect(t.Context(), opts("ws://127.0.0.1:1/provider/connect", key)); err == nil {
			t.Fatal("connected to nothing")
		}
	})
}

type recordingHandler struct {
	jobs    chan Job
	cancels chan JobCancel
}

func (h recordingHandler) HandleJob(j Job)          { h.jobs <- j }
func (h recordingHandler) HandleCancel(c JobCancel) { h.cancels <- c }

func TestSessionSurvivesBadFramesAndKeepsOrder(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	h := recordingHandler{make(chan Job, 4), make(chan JobCancel, 4)}
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, h) }()

	for _, bad := range []string{`nope`, `{"type":"job"}`, `{"no":"type"}`, `{"type":"config_update","interval":5}`} {
		if err := p.Send(ctx, []byte(bad)); err != nil {
			t.Fatal(err)
		}
	}
	p.SendBinary(ctx, []byte{1, 2, 3})
	p.Send(ctx, map[string]any{"type": "job", "job_id": "j1", "model_id": "m", "request": map[string]any{}})
	p.Send(ctx, map[string]any{"type": "job_cancel", "job_id": "j1"})
	select {
	case j := <-h.jobs:
		if j.JobID != "j1" {
			t.Fatalf("job %+v", j)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job after the bad frames never arrived")
	}
	if c := <-h.cancels; c.JobID != "j1" {
		t.Fatalf("cancel %+v", c)
	}

	for i := range 100 {
		if err := s.Send(ctx, []byte(fmt.Sprintf(`{"type":"n","job_id":"%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // flushes the queue, then a normal closure
	if err := <-runErr; err != nil {
		t.Fatalf("Run after Close = %v, want nil", err)
	}
	frames := p.Frames()
	if len(frames) != 100 {
		t.Fatalf("coordinator got %d frames, want 100", len(frames))
	}
	for i, f := range frames {
		if f.JobID != fmt.Sprint(i) {
			t.Fatalf("frame %d is %q: out of order", i, f.JobID)
		}
	}
	if err := s.Send(ctx, []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
}

func TestRunEndsWhenCoordinatorDrops(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, recordingHandler{}) }()
	p.Drop()
	select {
	case err := <-runErr:
		if err == nil {
			t.Fatal("an abrupt drop reported as a normal close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end after the coordinator dropped")
	}
	if s.Context().Err() == nil {
		t.Fatal("session context still live after the drop")
	}
}

func TestReadLimitIsSet(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	o := opts(url, newTestKey())
	o.ReadLimit = 1024
	s, err := Connect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, recordingHandler{}) }()
	big := `{"type":"job","job_id":"j","model_id":"m","request":{"p":"` + strings.Repeat("x", 4096) + `"}}`
	p.Send(ctx, []byte(big))
	select {
	case err := <-runErr:
		if err == nil {
			t.Fatal("oversized frame accepted")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("oversized frame did not end the session")
	}
}
