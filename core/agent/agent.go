// Package agent is one running agent: it owns the engine and everything
// that lives beside it for as long as the agent runs — the ledger keeper,
// the hardware sampler and its sampling-rate lease, the earning policies'
// readings, the metrics, the state history, the self-tests, the import of
// the command-line agent, the support bundle and the local API server.
//
// The app (package app) decides which processes run and builds an agent
// with New; every process mode that earns (the desktop's always-on process,
// the headless agent, the system service) runs the same Agent:
//
//	a, err := agent.New(opts)
//	go a.Run(ctx)   // serve until ctx ends
//	a.Drain(dctx)   // on quit: stop taking jobs, let running ones finish
//	cancel()        // then stop everything
//	a.Close()
//
// Nothing here imports fyne.io: the tray and the dashboard are clients of
// the local API this agent serves.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/diagnose"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/core/metrics"
	"usepod.ai/agent/core/selftest"
)

// DrainTimeout is how long quitting waits for running jobs by default.
const DrainTimeout = 60 * time.Second

// Options build an Agent. Config, DataDir and KeyStore are required.
type Options struct {
	// Config is the validated settings, with this run's flag overrides.
	Config config.Config
	// ConfigPath is the settings file: an import writes there.
	ConfigPath string
	// SaveConfig writes a changed config; the app keeps its run-only flags
	// out of the file. Nil keeps changes in memory only.
	SaveConfig func(config.Config) error
	// DataDir holds the ledger, the logs, the earning choice and the
	// self-test results.
	DataDir  string
	KeyStore identity.KeyStore
	// AllowInsecure permits a ws:// coordinator (--allow-insecure).
	AllowInsecure bool
	// Desktop turns on what only a desktop has: the idle and battery
	// policies and their readings.
	Desktop bool
	// API is the claimed local API address; Run serves it. Nil serves
	// none (tests).
	API net.Listener
	// OpenDashboard and Quit are the desktop's local API extras (see
	// localapi.ServerOptions); nil answers 501.
	OpenDashboard func(settings bool) error
	Quit          func()
	Log           *slog.Logger // nil discards
}

// Agent is one running agent. Build it with New, call Run once, Drain to
// quit, and Close after Run has returned.
type Agent struct {
	o        Options
	log      *slog.Logger
	engine   *engine.Engine
	ledger   *ledger.Keeper
	hardware *hardware
	metrics  *metrics.Metrics  // served when [observability] prometheus_addr is set
	history  *diagnose.History // state changes, for support bundles
	selftest *selftest.Tester  // the models' self-tests and their last results
	api      *localapi.Server

	failOnce sync.Once
	failed   chan error // receives the engine's error once, when it cannot run
}

// New opens the ledger and builds the engine and everything beside it. It
// starts nothing: Run does.
func New(o Options) (*Agent, error) {
	if o.KeyStore == nil || o.DataDir == "" {
		return nil, errors.New("agent: Options.KeyStore and Options.DataDir are required")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A ledger that cannot be opened or written does not stop the agent:
	// the Keeper holds finished jobs, retries, and the problem is shown.
	led := ledger.OpenKeeper(filepath.Join(o.DataDir, "ledger.db"), log)
	startPaused, saveEarning := earningChoice(o.DataDir, log)
	a := &Agent{o: o, log: log, ledger: led, history: &diagnose.History{}, failed: make(chan error, 1)}
	eng, err := engine.New(engine.Options{
		Config:        o.Config,
		KeyStore:      o.KeyStore,
		Ledger:        led,
		SaveConfig:    o.SaveConfig,
		AllowInsecure: o.AllowInsecure,
		StartPaused:   startPaused, // the user's choice survives a restart
		SaveEarning:   saveEarning,
		Desktop:       o.Desktop, // idle and battery policies: the desktop's only
		Log:           log,
		// Set before Run starts any job: the metrics need the engine too.
		OnJobEnd: a.jobEnded,
	})
	if err != nil {
		led.Close()
		return nil, err
	}
	a.engine = eng
	a.hardware = newHardware(log, eng, o.Desktop)
	a.metrics = metrics.New(metrics.Options{Snapshot: eng.Snapshot, GPUs: a.hardware.Latest})
	a.selftest = &selftest.Tester{
		Streamer: &backend.Client{Log: log},
		Servers:  eng.Backends,
		Store:    selftest.OpenStore(filepath.Join(o.DataDir, "selftest.json")),
		Log:      log,
	}
	a.api = localapi.NewServer(localapi.ServerOptions{
		Engine:        eng,
		Hardware:      a.hardware,
		Diagnose:      a.writeBundle,
		Jobs:          led,
		SelfTest:      a.selftest,
		Import:        a.importFromCLI,
		OpenDashboard: o.OpenDashboard,
		Quit:          o.Quit,
		Log:           log,
		PID:           os.Getpid(),
	})
	return a, nil
}

// jobEnded is told how every job ended. It must not block.
func (a *Agent) jobEnded(r jobs.Result) {
	a.metrics.JobEnded(r)
	// Done jobs are recorded before job_done is sent; the others are put
	// on record without holding up their goroutine.
	if e, ok := jobs.FailedEntry(r); ok {
		a.ledger.RecordLater(e)
	}
}

// Run serves until ctx ends: the engine, the hardware sampler, the
// operators' metrics and state history, and the local API. It blocks.
//
// An engine that cannot run (a broken key store, say) is sent on Failed
// and logged; Run keeps serving the local API so a tray or dashboard can
// say why, and returns that error once ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if a.o.API != nil {
		a.log.Info("local API", "address", a.o.API.Addr().String())
		wg.Go(func() {
			if err := a.api.Serve(ctx, a.o.API); err != nil {
				a.log.Error("the local API stopped", "err", err)
			}
		})
	}
	wg.Go(func() { a.hardware.run(ctx) })
	a.startOps(ctx, &wg)
	err := a.engine.Run(ctx)
	if err != nil {
		a.log.Error("the agent cannot run", "err", err)
		a.failOnce.Do(func() { a.failed <- err })
		<-ctx.Done() // keep the local API up: it tells the user why
	}
	return err
}

// Failed receives the error that stopped the engine for good, once.
func (a *Agent) Failed() <-chan error { return a.failed }

// Drain stops taking new jobs and lets running ones finish, until ctx
// ends. The local API still answers meanwhile, so `status` can watch.
func (a *Agent) Drain(ctx context.Context) error {
	if n := a.engine.Snapshot().JobsInFlight; n > 0 {
		deadline, _ := ctx.Deadline()
		a.log.Info("stopping: letting running jobs finish", "jobs", n, "at_most", time.Until(deadline).Round(time.Second))
	}
	if err := a.engine.Drain(ctx); err != nil {
		a.log.Warn("stopped with jobs still running", "err", err)
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}

// Close closes the ledger. Call it after Run has returned.
func (a *Agent) Close() { a.ledger.Close() }

// Engine is the running engine, for the app's wiring that acts on it
// directly (start at login, the first-run check).
func (a *Agent) Engine() *engine.Engine { return a.engine }

// RequestShow asks open dashboards to come to the front; false when none
// listens (see localapi.Server.RequestShow).
func (a *Agent) RequestShow(settings bool) bool { return a.api.RequestShow(settings) }
