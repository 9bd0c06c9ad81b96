package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/service"
	"usepod.ai/agent/core/version"
)

// drainTimeout bounds how long quitting waits for running jobs.
const drainTimeout = 60 * time.Second

// runFlags are the flags of `usepod-agent run`.
type runFlags struct {
	headless       bool
	coordinator    string
	enrollmentCode string
	allowInsecure  bool
	keyring        string
}

// agent is everything a running agent holds open.
type agent struct {
	cfgPath, dataDir string
	log              *slog.Logger
	engine           *engine.Engine
	ledger           *ledger.Ledger
	closeLog         func()
}

func (a *agent) Close() {
	a.ledger.Close()
	a.closeLog()
}

func versionString() string { return version.Version }

func cmdRun(ctx context.Context, c *cli, args []string) int {
	var rf runFlags
	fs := c.flagSet("run")
	fs.BoolVar(&rf.headless, "headless", false, "run without a window (servers)")
	fs.StringVar(&rf.coordinator, "coordinator", "", "coordinator `URL` (wss://...)")
	fs.StringVar(&rf.enrollmentCode, "enrollment-code", "", "enrollment `code` from your Use Pod dashboard")
	fs.BoolVar(&rf.allowInsecure, "allow-insecure", false, "allow a ws:// coordinator (local testing only)")
	fs.StringVar(&rf.keyring, "keyring", "", "where the identity key is kept: auto, system or file")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fmt.Errorf("run takes no arguments, got %q", fs.Arg(0)))
	}
	if !rf.headless {
		return runDesktop(ctx, c, rf)
	}
	a, code := c.openAgent(ctx, rf)
	if a == nil {
		return code
	}
	defer a.Close()
	if service.RunningAsWindowsService() {
		// The service manager's stop request cancels sctx: drain as on SIGTERM.
		err := service.RunWindowsService(func(sctx context.Context) error {
			if code := runHeadless(sctx, a); code != exitOK {
				return fmt.Errorf("the agent stopped with exit code %d", code)
			}
			return nil
		})
		if err != nil {
			return c.fail(err)
		}
		return exitOK
	}
	return runHeadless(ctx, a)
}

// openAgent loads the config (with run's flag overrides), opens the key
// store and ledger, and builds the engine. On failure it has reported the
// error and returns the exit code.
func (c *cli) openAgent(ctx context.Context, rf runFlags) (*agent, int) {
	var fileCfg config.Config // as the file has it, before the flags
	cfg, cfgPath, f, err := c.loadConfig(func(cfg *config.Config) {
		fileCfg = cfg.Clone()
		if rf.coordinator != "" {
			cfg.Coordinator.URL = rf.coordinator
		}
		if rf.enrollmentCode != "" {
			cfg.Coordinator.EnrollmentCode = strings.TrimSpace(rf.enrollmentCode)
		}
		if rf.allowInsecure {
			cfg.Coordinator.AllowInsecure = true
		}
		if rf.keyring != "" {
			cfg.Identity.Keyring = rf.keyring
		}
	})
	if err != nil {
		return nil, c.usageError(err)
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return nil, c.fail(err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, c.fail(fmt.Errorf("create the data folder: %w", err))
	}
	log, closeLog, err := c.newLogger(dataDir, cfg.Observability.LogLevel)
	if err != nil {
		return nil, c.usageError(err)
	}
	for _, w := range f.Warnings {
		log.Warn(w)
	}
	store, err := identity.OpenStore(ctx, cfg.Identity.Keyring, dataDir, log.With("component", "identity"))
	if err != nil {
		closeLog()
		return nil, c.fail(err)
	}
	led, err := ledger.Open(filepath.Join(dataDir, "ledger.db"))
	if err != nil {
		closeLog()
		return nil, c.fail(err)
	}
	eng, err := engine.New(engine.Options{
		Config:        cfg,
		KeyStore:      store,
		Ledger:        led,
		SaveConfig:    func(cfg config.Config) error { return config.Save(cfgPath, rf.keepOutOfFile(cfg, fileCfg)) },
		AllowInsecure: rf.allowInsecure,
		Log:           log,
	})
	if err != nil {
		led.Close()
		closeLog()
		return nil, c.fail(err)
	}
	log.Info("starting", "version", version.Version, "config", cfgPath, "data_dir", dataDir,
		"coordinator", cfg.Coordinator.URL, "enrollment_code", config.RedactCode(cfg.Coordinator.EnrollmentCode), "key", store.Where())
	return &agent{cfgPath: cfgPath, dataDir: dataDir, log: log, engine: eng, ledger: led, closeLog: closeLog}, exitOK
}

// runHeadless serves until SIGINT or SIGTERM, then lets running jobs finish
// (bounded) and exits 0.
func runHeadless(ctx context.Context, a *agent) int {
	defer startProfile(a.log)()
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- a.engine.Run(runCtx) }()

	select {
	case err := <-runErr:
		if err != nil {
			a.log.Error("agent stopped", "err", err)
			return exitError
		}
		return exitOK
	case <-sigCtx.Done():
	}
	stop() // a second signal kills at once
	a.log.Info("stopping: letting running jobs finish", "jobs", a.engine.Snapshot().JobsInFlight, "at_most", drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := a.engine.Drain(dctx); err != nil {
		a.log.Warn("stopped with jobs still running", "err", err)
	}
	cancelRun()
	if err := <-runErr; err != nil {
		a.log.Error("agent stopped", "err", err)
		return exitError
	}
	a.log.Info("stopped")
	return exitOK
}

// keepOutOfFile undoes the run flags in a config about to be saved: they
// apply to this run only. A setting the user changed during the run (it no
// longer equals the flag) is saved as changed.
func (rf runFlags) keepOutOfFile(next, file config.Config) config.Config {
	if rf.coordinator != "" && next.Coordinator.URL == rf.coordinator {
		next.Coordinator.URL = file.Coordinator.URL
	}
	if code := strings.TrimSpace(rf.enrollmentCode); code != "" && next.Coordinator.EnrollmentCode == code {
		next.Coordinator.EnrollmentCode = file.Coordinator.EnrollmentCode
	}
	if rf.allowInsecure && next.Coordinator.AllowInsecure {
		next.Coordinator.AllowInsecure = file.Coordinator.AllowInsecure
	}
	if rf.keyring != "" && next.Identity.Keyring == rf.keyring {
		next.Identity.Keyring = file.Identity.Keyring
	}
	return next
}
