package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/telemetry"
)

var _ Engine = (*engine.Engine)(nil)

// uiEngine is the method set of ui.Engine (core may not import the ui
// package, which needs Fyne); the dashboard process hands it a *Client.
type uiEngine interface {
	Watch(ctx context.Context) <-chan engine.Snapshot
	Start()
	Pause()
	SetModelEnabled(model string, on bool) error
	UpdateConfig(edit func(*config.Config)) error
	Config() config.Config
	Detect(ctx context.Context) []backend.Health
}

var _ uiEngine = (*Client)(nil)

// A Client fronts another agent: the tray attached to the system service
// serves the service's state at the user's address through one.
var _ Engine = (*Client)(nil)

func TestStatusStartPauseAndModels(t *testing.T) {
	fe := newFakeEngine()
	s := serve(t, ServerOptions{Engine: fe, PID: 4321})
	c := s.client
	ctx := ctxT(t)

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 4321 || !reflect.DeepEqual(st.Engine(), fe.Snapshot()) {
		t.Fatalf("status = %+v, want pid 4321 and %+v", st, fe.Snapshot())
	}

	if err := c.SetEarning(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEarning(ctx, true); err != nil {
		t.Fatal(err)
	}
	if starts, pauses := fe.counts(); starts != 1 || pauses != 1 {
		t.Fatalf("SetEarning: %d starts, %d pauses", starts, pauses)
	}
	c.Pause() // does not block: sent on a goroutine
	eventually(t, "Pause to reach the engine", func() bool { _, p := fe.counts(); return p == 2 })
	c.Start()
	eventually(t, "Start to reach the engine", func() bool { s, _ := fe.counts(); return s == 2 })

	if err := c.SetModelEnabled("org/model:7b", false); err != nil {
		t.Fatal(err)
	}
	if got := fe.Config().Models.Disabled; !slices.Equal(got, []string{"org/model:7b"}) {
		t.Fatalf("disabled after the switch = %v", got)
	}
	fe.mu.Lock()
	fe.failNext = &config.ValidationError{Path: "/home/u/agent.toml", Errors: []config.FieldError{{Key: "models.disabled", Message: "too many", Line: 7}}}
	fe.mu.Unlock()
	err = c.SetModelEnabled("tiny", false)
	var ve *config.ValidationError
	if !errors.As(err, &ve) || ve.Path != "/home/u/agent.toml" || len(ve.Errors) != 1 ||
		ve.Errors[0].Key != "models.disabled" || ve.Errors[0].Message != "too many" || ve.Errors[0].Line != 7 {
		t.Fatalf("refused switch = %#v", err)
	}
}

// TestStartPauseNewestWins: a burst of Start and Pause ends as the last
// one asked, though each is sent on a goroutine. The check waits for the
// client's sender to finish, so no order can still be on its way.
func TestStartPauseNewestWins(t *testing.T) {
	var last string
	fe2 := &orderEngine{fakeEngine: newFakeEngine()}
	s2 := serve(t, ServerOptions{Engine: fe2})
	for i := range 50 {
		if i%2 == 0 {
			s2.client.Start()
			last = "start"
		} else {
			s2.client.Pause()
			last = "pause"
		}
	}
	c := s2.client
	eventually(t, "the client to send the last control", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.sending // each sent one has been answered, so the engine has it
	})
	if got := fe2.last(); got != last {
		t.Fatalf("last control the engine got = %s, want %s", got, last)
	}
}

// orderEngine remembers the last control it got.
type orderEngine struct {
	*fakeEngine
	mu  sync.Mutex // guards seq
	seq []string
}

func (o *orderEngine) Start() { o.mu.Lock(); o.seq = append(o.seq, "start"); o.mu.Unlock() }
func (o *orderEngine) Pause() { o.mu.Lock(); o.seq = append(o.seq, "pause"); o.mu.Unlock() }
func (o *orderEngine) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seq) == 0 {
		return ""
	}
	return o.seq[len(o.seq)-1]
}

func TestConfigRevisions(t *testing.T) {
	fe := newFakeEngine()
	s := serve(t, ServerOptions{Engine: fe})
	c := s.client
	ctx := ctxT(t)

	if got := c.Config(); !reflect.DeepEqual(got, fe.Config()) {
		t.Fatalf("Config() = %+v, want %+v", got, fe.Config())
	}
	cb, err := c.getConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another road (the tray, in process) changes the settings: the old
	// revision is stale.
	if err := fe.UpdateConfig(func(c *config.Config) { c.Operator.DisplayName = "tray" }); err != nil {
		t.Fatal(err)
	}
	stale := cb.Config
	stale.Limits.MaxConcurrent = 3
	err = c.do(ctx, http.MethodPut, "/v1/config", configBody{Revision: cb.Revision, Config: stale}, nil)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != CodeRevisionConflict {
		t.Fatalf("PUT with a stale revision = %#v, want 409 %s", err, CodeRevisionConflict)
	}
	if got := fe.Config(); got.Operator.DisplayName != "tray" || got.Limits.MaxConcurrent != 8 {
		t.Fatalf("a stale PUT changed the config: %+v", got)
	}

	// UpdateConfig retries on a conflict: the first edit races with the
	// tray, the second lands, and both changes are kept.
	edits := 0
	err = c.UpdateConfig(func(cfg *config.Config) {
		edits++
		if edits == 1 {
			if err := fe.UpdateConfig(func(c *config.Config) { c.Operator.ContactEmail = "ops@example.com" }); err != nil {
				t.Error(err)
			}
		}
		cfg.Limits.MaxConcurrent = 5
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fe.Config(); edits != 2 || got.Limits.MaxConcurrent != 5 || got.Operator.ContactEmail != "ops@example.com" || got.Operator.DisplayName != "tray" {
		t.Fatalf("after %d edits: %+v", edits, got)
	}

	// An invalid config comes back as the validation error, per field.
	before := fe.Config()
	err = c.UpdateConfig(func(cfg *config.Config) {
		cfg.Limits.MaxConcurrent = 0
		cfg.Coordinator.URL = "ftp://nowhere"
	})
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("invalid config: %#v, want *config.ValidationError", err)
	}
	keys := map[string]bool{}
	for _, fe := range ve.Errors {
		keys[fe.Key] = fe.Message != ""
	}
	if !keys["limits.max_concurrent"] || !keys["coordinator.url"] {
		t.Fatalf("field errors = %+v, want limits.max_concurrent and coordinator.url with messages", ve.Errors)
	}
	if !reflect.DeepEqual(fe.Config(), before) {
		t.Fatal("an invalid config was applied")
	}
	// Config is also the last known one when the agent is gone.
	s.stop(t)
	if got := c.Config(); got.Limits.MaxConcurrent != 5 {
		t.Fatalf("Config() after the agent stopped = %+v, want the last known", got.Limits)
	}
}

func TestDetectCarriesErrors(t *testing.T) {
	fe := newFakeEngine()
	s := serve(t, ServerOptions{Engine: fe})
	got := s.client.Detect(ctxT(t))
	if len(got) != 2 || got[0].Err != nil || !reflect.DeepEqual(got[0].Models, fe.health[0].Models) ||
		!reflect.DeepEqual(got[0].Server, fe.health[0].Server) || !got[0].Healthy {
		t.Fatalf("detect = %+v", got)
	}
	if got[1].Err == nil || got[1].Err.Error() != "nothing answers on port 8000" || got[1].Healthy {
		t.Fatalf("detect error = %+v", got[1])
	}
}

func TestImport(t *testing.T) {
	fe := newFakeEngine()
	var gotReq ImportRequest
	s := serve(t, ServerOptions{Engine: fe, Import: func(ctx context.Context, r ImportRequest) (ImportResult, error) {
		gotReq = r
		if !r.Force {
			return ImportResult{}, fmt.Errorf("import: %w", &IdentityConflictError{
				CurrentPublicKey: "Y3VycmVudA==", CurrentProviderID: "prov-old", CurrentJobs: 3, CurrentEarnedMicro: 1234,
				Msg: "this computer already has a different identity"})
		}
		return ImportResult{KeyPath: r.IdentityKey, PublicKey: "bmV3", ProviderID: "prov-new", KeptIn: "the system keyring"}, nil
	}})
	ctx := ctxT(t)
	req := ImportRequest{AgentToml: "/home/u/.usepod-agent/agent.toml", IdentityKey: "/home/u/.usepod-agent/identity.key"}
	_, err := s.client.Import(ctx, req)
	var ice *IdentityConflictError
	if !errors.As(err, &ice) || ice.CurrentPublicKey != "Y3VycmVudA==" || ice.CurrentProviderID != "prov-old" ||
		ice.CurrentJobs != 3 || ice.CurrentEarnedMicro != 1234 ||
		err.Error() != "this computer already has a different identity" {
		t.Fatalf("conflict = %#v", err)
	}
	if gotReq != req {
		t.Fatalf("import got %+v, want %+v", gotReq, req)
	}
	req.Force = true
	res, err := s.client.Import(ctx, req)
	if err != nil || res != (ImportResult{KeyPath: req.IdentityKey, PublicKey: "bmV3", ProviderID: "prov-new", KeptIn: "the system keyring"}) {
		t.Fatalf("forced import = %+v, %v", res, err)
	}
}

func TestHardware(t *testing.T) {
	hw := &fakeHardware{samples: []telemetry.Sample{
		{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CPUPercent: 10, HasCPU: true},
		{At: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), CPUPercent: 20, HasCPU: true, MemUsed: 1 << 30, MemTotal: 8 << 30, HasMem: true,
			GPUs: []telemetry.GPU{{Index: 0, Name: "NVIDIA H200", UtilPercent: 50, TempC: 60, Valid: telemetry.FieldUtil | telemetry.FieldTemp}}, GPUSource: "nvml", Err: "power: not supported"},
	}}
	s := serve(t, ServerOptions{Engine: newFakeEngine(), Hardware: hw})
	ctx := ctxT(t)
	latest, hist, err := s.client.Hardware(ctx)
	if err != nil || latest == nil || !reflect.DeepEqual(*latest, hw.samples[1]) || !reflect.DeepEqual(hist, hw.samples) {
		t.Fatalf("hardware = %+v, %+v, %v", latest, hist, err)
	}
	hw.mu.Lock()
	watched := hw.watched
	hw.mu.Unlock()
	if watched != 1 {
		t.Fatalf("Watched called %d times, want once per request", watched)
	}
}

func TestDashboardAndQuit(t *testing.T) {
	opened := make(chan bool, 1)
	quit := make(chan struct{})
	s := serve(t, ServerOptions{Engine: newFakeEngine(),
		OpenDashboard: func(settings bool) error { opened <- settings; return nil },
		Quit:          func() { close(quit) },
	})
	ctx := ctxT(t)
	if err := s.client.OpenDashboard(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !<-opened {
		t.Fatal("OpenDashboard lost settings=true")
	}

	if s.srv.RequestShow(false) {
		t.Fatal("RequestShow delivered with no dashboard subscribed")
	}
	sctx, cancel := context.WithCancel(ctx)
	reqs := s.client.ShowRequests(sctx)
	eventually(t, "the dashboard to subscribe", func() bool { return s.srv.RequestShow(true) })
	if r := <-reqs; !r.Settings {
		t.Fatalf("show request = %+v, want settings", r)
	}
	cancel()
	for range reqs { // closes once ctx ends
	}
	eventually(t, "the subscription to end", func() bool { return !s.srv.RequestShow(false) })

	if err := s.client.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-quit:
	case <-ctx.Done():
		t.Fatal("Quit was not called")
	}
}

func TestMissingFeaturesAnswer501(t *testing.T) {
	s := serve(t, ServerOptions{Engine: newFakeEngine()})
	ctx := ctxT(t)
	_, _, err1 := s.client.Hardware(ctx)
	_, err2 := s.client.Import(ctx, ImportRequest{})
	err3 := s.client.OpenDashboard(ctx, false)
	err4 := s.client.Quit(ctx)
	for i, err := range []error{err1, err2, err3, err4} {
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented || ae.Code != CodeNotImplemented || !strings.HasPrefix(ae.Message, "this agent does not offer") {
			t.Errorf("call %d: %#v, want 501", i+1, err)
		}
	}
	err := s.client.do(ctx, http.MethodGet, "/v2/nothing", nil, nil)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != CodeNotFound {
		t.Fatalf("unknown route: %#v", err)
	}
	err = s.client.do(ctx, http.MethodPost, "/v1/models/enabled", "not an object", nil)
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != CodeBadRequest {
		t.Fatalf("bad body: %#v", err)
	}
}

func TestNotRunning(t *testing.T) {
	c := NewClient(testAddress(t))
	_, err := c.Status(ctxT(t))
	if !errors.Is(err, ErrNotRunning) || !strings.HasPrefix(err.Error(), "Use Pod Agent is not running") {
		t.Fatalf("status with no agent: %v", err)
	}
	var reported []error
	var mu sync.Mutex
	c.OnError = func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }
	c.Pause()
	eventually(t, "Pause's failure to be reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reported) == 1 && errors.Is(reported[0], ErrNotRunning)
	})
}
