// Package engine is the one package that knows the others: it keeps the
// agent's identity, config, backends, coordinator session, jobs and ledger
// together, and offers the UI one API (Start, Pause, SetModelEnabled,
// UpdateConfig, Watch). It never imports fyne.io.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/internal/rawsock"
	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/policy"
	"usepod.ai/agent/core/version"
)

// Defaults for Options left zero.
const (
	DefaultHeartbeatInterval = 15 * time.Second // docs/protocol.md section 4
	DefaultDiscoveryInterval = time.Minute
	// DefaultDiscoveryRetryInterval is how often the servers are probed
	// while no model is found: a server started after the agent shows up
	// within a few seconds, as the dashboard promises.
	DefaultDiscoveryRetryInterval = 3 * time.Second
	// DefaultDrainTimeout bounds how long Pause and Drain let running jobs
	// finish before closing the session anyway.
	DefaultDrainTimeout = 90 * time.Second
	// earningWindow is how long after its last job the agent still shows
	// "earning" rather than "waiting for jobs".
	earningWindow = 2 * time.Minute
)

// Ledger is the part of *ledger.Ledger the engine uses.
type Ledger interface {
	jobs.Recorder
	Totals(ctx context.Context, now time.Time) (ledger.Totals, error)
	Hourly(ctx context.Context, now time.Time, hours int) ([]ledger.HourBucket, error)
}

// Options wire an engine. KeyStore and Ledger are required.
type Options struct {
	Config   config.Config
	KeyStore identity.KeyStore
	Ledger   Ledger
	// SaveConfig persists a validated config (config.Save at the config
	// path). Nil keeps changes in memory only.
	SaveConfig func(config.Config) error
	// AllowInsecure permits a ws:// coordinator (--allow-insecure).
	AllowInsecure bool
	// StartPaused starts without connecting until Start is called: the
	// user paused earning before the app last stopped.
	StartPaused bool
	// SaveEarning keeps the user's choice to earn (Start) or not (Pause) for
	// the next start of the app. It is called off the caller's goroutine,
	// the latest choice last; a failure is shown, not returned. Nil keeps
	// the choice in memory only.
	SaveEarning func(earning bool) error

	BackendHTTP       *http.Client // for inference servers; nil = a client with no overall timeout
	CoordinatorHTTP   *http.Client // for the WebSocket dial; nil = http.DefaultClient
	HeartbeatInterval time.Duration
	DiscoveryInterval time.Duration
	DrainTimeout      time.Duration
	HandshakeTimeout  time.Duration

	// Desktop: the idle and battery policies apply (never headless).
	Desktop bool
	// PolicyTiming is the thermal guard's pace; zero is policy.DefaultTiming.
	PolicyTiming policy.Timing

	// DiscoveryRetryInterval is the probe interval while no model is found.
	DiscoveryRetryInterval time.Duration
	// PingInterval and PongTimeout tune how soon a silent coordinator path
	// is dropped and redialled (coordinator.Options); zero: the defaults.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// Now and After are the clock; tests inject them. After is used for
	// reconnect waits only.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Rand feeds the backoff jitter; nil is math/rand.
	Rand func() float64
	// Log is given without a component attribute: the engine adds
	// component=engine, and the parts it builds (coordinator session,
	// backend client, jobs) each add their own.
	Log *slog.Logger
	// OnJobEnd, when set, is told how every job ended (see
	// jobs.Manager.OnJobEnd): metrics and the job record hang here. It must
	// not block.
	OnJobEnd func(jobs.Result)
}

// Engine runs the agent. Create it with New, then call Run once.
type Engine struct {
	opts     Options
	log      *slog.Logger
	backends *backend.Client
	jobs     *jobs.Manager

	cfgMu  sync.Mutex // serialises UpdateConfig calls (validate, save, apply)
	capsMu sync.Mutex // serialises capabilities sends (flushOffer), in the order computed

	saveMu sync.Mutex     // serialises SaveEarning calls
	saves  sync.WaitGroup // SaveEarning calls not yet done; Drain waits for them

	mu          sync.Mutex // guards the fields below
	cfg         config.Config
	id          *identity.Identity
	want        bool                 // the user wants to earn
	sess        *coordinator.Session // nil when not connected
	connecting  bool
	sessions    int64 // sessions that reached auth_ok since start
	retryAt     time.Time
	authReason  string // last auth_failed reason, cleared by auth_ok
	healths     []backend.Health
	routes      map[string]backend.Target // every servable model, enabled or not
	down        map[string]downServer     // by URL: servers that served models and stopped answering
	offered     string                    // JSON of the models last sent in capabilities
	offeredSet  map[string]bool
	pendingCaps *pendingOffer // capabilities computed but not sent yet; newest wins
	lastErr     string
	lastErrAt   time.Time
	lastErrV    error // lastErr as an error, for Snapshot.Problem
	connErr     error // why the last connection attempt or session failed
	lastJobAt   time.Time
	totals      ledger.Totals
	hourly      []ledger.HourBucket
	watchers    map[chan Snapshot]struct{}
	kick        chan struct{} // wakes the session loop: want or config changed
	dirty       chan struct{} // wakes the publisher
	offerKick   chan struct{} // wakes offerLoop: pendingCaps was set
	ledgerDirty bool
	lastState   State // the state last published, for the state-change log line

	// Guarded by mu too.
	idUnsaved bool   // e.id.ProviderID came from auth_ok and is not saved yet
	idSaveErr string // why it is not saved, in words for the user; "" once saved

	guard    *policy.Guard
	readings policy.Readings // the latest, from Observe (none before)
	started  time.Time       // when New ran; set once, read without mu
	verdict  policy.Verdict  // the policies' latest verdict
}

// New checks the options and builds an engine; it does no I/O.
func New(o Options) (*Engine, error) {
	if o.KeyStore == nil || o.Ledger == nil {
		return nil, errors.New("engine: KeyStore and Ledger are required")
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if o.DiscoveryRetryInterval == 0 {
		o.DiscoveryRetryInterval = DefaultDiscoveryRetryInterval
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.BackendHTTP == nil {
		o.BackendHTTP = newBackendClient()
	}
	e := &Engine{
		opts:      o,
		log:       o.Log.With("component", "engine"),
		backends:  &backend.Client{HTTP: o.BackendHTTP, Log: o.Log},
		cfg:       o.Config.Clone(),
		guard:     &policy.Guard{Timing: o.PolicyTiming},
		started:   o.Now(),
		want:      !o.StartPaused,
		routes:    map[string]backend.Target{},
		watchers:  map[chan Snapshot]struct{}{},
		kick:      make(chan struct{}, 1),
		dirty:     make(chan struct{}, 1),
		offerKick: make(chan struct{}, 1),
		lastState: -1,
	}
	e.jobs = &jobs.Manager{
		Streamer:      e.backends,
		Lookup:        e.lookup,
		MaxConcurrent: func() int { e.mu.Lock(); defer e.mu.Unlock(); return e.cfg.Limits.MaxConcurrent },
		Ledger:        recordHook{o.Ledger, e.recorded},
		Now:           o.Now,
		Log:           o.Log,
		OnChange:      e.jobsChanged,
		OnLedgerError: func(err error) { e.setError(fmt.Errorf("earnings record: %w", err)) },
		OnJobEnd:      o.OnJobEnd,
	}
	if k, ok := o.Ledger.(interface{ SetOnChange(func()) }); ok {
		k.SetOnChange(e.recorded) // kept jobs written late: refresh the totals
	}
	// The policies that need no readings (the schedule) apply from the
	// first offer on; the others once Observe brings readings.
	e.verdict = policy.Verdict{Limit: e.cfg.Limits.MaxConcurrent}
	e.evaluateLocked()
	return e, nil
}

// Run loads the identity, discovers backends and keeps the coordinator
// session up while the user wants to earn. It blocks until ctx is
// cancelled (then returns nil) or the identity cannot be loaded.
func (e *Engine) Run(ctx context.Context) error {
	id, created, err := identity.LoadOrCreate(ctx, e.opts.KeyStore, e.opts.Now())
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if created {
		e.log.Info("created a new identity key", "public_key", id.PublicBase64(), "kept_in", e.opts.KeyStore.Where())
	}
	e.mu.Lock()
	e.id = id
	e.ledgerDirty = true
	e.mu.Unlock()

	// Cancelling ctx stops discovery, the publisher, the capabilities
	// sender and the session loop; the session loop's exit aborts any job
	// still running.
	var wg sync.WaitGroup
	e.discover(ctx)
	wg.Add(4)
	go func() { defer wg.Done(); e.publishLoop(ctx) }()
	go func() { defer wg.Done(); e.offerLoop(ctx) }()
	go func() { defer wg.Done(); e.discoveryLoop(ctx) }()
	go func() { defer wg.Done(); e.sessionLoop(ctx) }()
	wg.Wait()
	return nil
}

// Start makes the agent want to earn: connect (or re-offer its models on
// an open session). It does not block.
func (e *Engine) Start() {
	e.mu.Lock()
	e.want = true
	e.overrideLocked()
	e.mu.Unlock()
	e.log.Info("earning started by the user")
	e.saveEarning()
	e.offerChanged()
	e.wake()
}

// Pause stops new work: it offers no models at once, lets running jobs
// finish (bounded by the drain timeout), then closes the session normally.
// It does not block.
func (e *Engine) Pause() {
	e.mu.Lock()
	e.want = false
	sess := e.sess
	e.mu.Unlock()
	e.log.Info("earning paused by the user")
	e.saveEarning()
	e.offerChanged()
	e.wake()
	if sess != nil {
		go e.closeWhenDrained(sess)
	}
}

// Drain is Pause that blocks until running jobs have finished (or ctx
// ends) and the session is closed: what Quit and SIGTERM do.
func (e *Engine) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.want = false
	sess := e.sess
	e.mu.Unlock()
	e.offerChanged()
	e.wake()
	e.flushOffer() // the coordinator hears "no models" before the close
	err := e.jobs.Wait(ctx)
	if sess != nil {
		sess.Close()
	}
	e.waitSaves(ctx)
	return err
}

func (e *Engine) closeWhenDrained(sess *coordinator.Session) {
	ctx, cancel := context.WithTimeout(sess.Context(), e.opts.DrainTimeout)
	defer cancel()
	if err := e.jobs.Wait(ctx); err != nil && sess.Context().Err() == nil {
		e.log.Warn("closing the session with jobs still running", "jobs", e.jobs.InFlight())
	}
	e.mu.Lock()
	resumed := e.want
	e.mu.Unlock()
	if !resumed {
		e.flushOffer() // "no models" goes out before the close
		sess.Close()
	}
}

// SetModelEnabled switches a model on or off for good: the choice is saved
// and the coordinator gets new capabilities at once. It blocks while the
// config is saved, never on the network.
func (e *Engine) SetModelEnabled(model string, on bool) error {
	return e.UpdateConfig(func(c *config.Config) { c.SetModelEnabled(model, on) })
}

// Config returns a copy of the current config.
func (e *Engine) Config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Clone()
}

// UpdateConfig applies edit to a copy of the config, validates it, saves
// it and applies it. An invalid result changes nothing and returns the
// validation error. It blocks while the config is saved, never on the
// network: capabilities go out from the engine's own goroutine.
func (e *Engine) UpdateConfig(edit func(*config.Config)) error {
	_, err := e.applyConfig(edit, nil)
	return err
}

// applyConfig is UpdateConfig that can also take up a new identity (id, when
// not nil) in the same step, so the session is redialled once, with both.
func (e *Engine) applyConfig(edit func(*config.Config), id *identity.Identity) (idChanged bool, err error) {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	old := e.Config()
	next := old.Clone()
	edit(&next)
	if err := next.Validate(); err != nil {
		return false, err
	}
	if e.opts.SaveConfig != nil {
		if err := e.opts.SaveConfig(next); err != nil {
			return false, fmt.Errorf("save settings: %w", err)
		}
	}
	e.mu.Lock()
	e.cfg = next
	if id != nil && (e.id == nil || e.id.PublicBase64() != id.PublicBase64() || e.id.ProviderID != id.ProviderID) {
		idChanged = true
		e.id = id
		e.idUnsaved, e.idSaveErr = false, "" // a save pending for the old identity must not overwrite the new one
	}
	redial := idChanged || old.Coordinator != next.Coordinator // a new key, URL or code takes a new session
	if redial {
		e.authReason = ""
	}
	e.evaluateLocked()
	sess := e.sess
	e.mu.Unlock()

	if backendsChanged(old, next) {
		go e.discover(context.Background())
	}
	if redial {
		if sess != nil {
			go sess.Close()
		}
		e.wake()
	}
	e.offerChanged()
	return idChanged, nil
}

// Detect probes the default ports and reports what answers. It blocks for
// at most a few seconds.
func (e *Engine) Detect(ctx context.Context) []backend.Health {
	return e.backends.Discover(ctx, nil)
}

// lookup is the jobs manager's routing table: only models offered now.
func (e *Engine) lookup(model string) (jobs.Route, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.offeredSet[model] {
		return jobs.Route{}, false
	}
	r := e.routes[model]
	p := e.cfg.PriceFor(model)
	return jobs.Route{Server: r.Server, InputPer1M: p.InputPer1M, OutputPer1M: p.OutputPer1M}, true
}

func (e *Engine) jobsChanged() {
	e.mu.Lock()
	e.lastJobAt = e.opts.Now()
	e.mu.Unlock()
	e.publish()
}

// recorded marks the earnings for a refresh: a job is in the ledger.
func (e *Engine) recorded() {
	e.mu.Lock()
	e.ledgerDirty = true
	e.mu.Unlock()
	e.publish()
}

// recordHook calls after once an entry is recorded.
type recordHook struct {
	jobs.Recorder
	after func()
}

func (h recordHook) Record(ctx context.Context, en ledger.Entry) error {
	err := h.Recorder.Record(ctx, en)
	if err == nil {
		h.after()
	}
	return err
}

func (e *Engine) setError(err error) {
	e.mu.Lock()
	e.lastErr = err.Error()
	e.lastErrAt = e.opts.Now()
	e.lastErrV = err
	e.mu.Unlock()
	e.publish()
}

// wake nudges the session loop.
func (e *Engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func backendsChanged(a, b config.Config) bool {
	if len(a.Backends) != len(b.Backends) {
		return true
	}
	for i := range a.Backends {
		x, y := a.Backends[i], b.Backends[i]
		if x.Kind != y.Kind || x.URL != y.URL || x.APIKey != y.APIKey || fmt.Sprint(x.Models) != fmt.Sprint(y.Models) {
			return true
		}
	}
	return false
}

// agentVersion is sent in auth_response and capabilities.
func agentVersion() string { return version.Version }

// newBackendClient is the HTTP client for the inference servers: no overall
// timeout (a job's deadline bounds it), and enough idle connections kept per
// server that a burst of jobs reuses them instead of dialling each anew
// (the default keeps two), which shortens every job's time to first token.
// Its sockets read and write without waking the runtime's monitor thread
// for every chunk (see rawsock).
func newBackendClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = rawsock.Dialer(t.DialContext)
	t.MaxIdleConns = 2 * maxIdlePerServer
	t.MaxIdleConnsPerHost = maxIdlePerServer
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// maxIdlePerServer matches the largest max_concurrent a config may set.
const maxIdlePerServer = 256
