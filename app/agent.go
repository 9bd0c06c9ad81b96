package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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
	"usepod.ai/agent/core/service"
	"usepod.ai/agent/core/version"
)

// drainTimeout bounds how long quitting waits for running jobs.
const drainTimeout = 60 * time.Second

// runFlags are the flags of `usepod-agent run`.
type runFlags struct {
	headless       bool
	coordinator    string
	enrollmentCode string // from the flag, the file or the environment (resolveEnrollmentCode)
	codeFile       string // --enrollment-code-file
	codeOnCmdLine  bool   // the code came from --enrollment-code: visible in the process list
	allowInsecure  bool
	keyring        string
	api            apiFlags
}

// enrollmentCodeEnv gives the enrollment code without putting it on the
// command line, where every user of the machine can read it (ps).
const enrollmentCodeEnv = "USEPOD_ENROLLMENT_CODE"

// maxCodeFile bounds the enrollment code file: a code is a few dozen bytes.
const maxCodeFile = 4 << 10

// resolveEnrollmentCode sets rf.enrollmentCode from --enrollment-code,
// --enrollment-code-file or $USEPOD_ENROLLMENT_CODE, in that order; the
// flag and the file together are refused. The variable is removed from the
// environment once read, so programs the agent starts do not inherit it.
func (rf *runFlags) resolveEnrollmentCode(getenv func(string) string) error {
	switch {
	case rf.enrollmentCode != "" && rf.codeFile != "":
		return errors.New("give the enrollment code once: --enrollment-code or --enrollment-code-file, not both")
	case rf.enrollmentCode != "":
		rf.enrollmentCode = strings.TrimSpace(rf.enrollmentCode)
		rf.codeOnCmdLine = true
	case rf.codeFile != "":
		f, err := os.Open(rf.codeFile)
		if err != nil {
			return fmt.Errorf("read the enrollment code file: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxCodeFile+1))
		f.Close()
		if err != nil {
			return fmt.Errorf("read the enrollment code file %s: %w", rf.codeFile, err)
		}
		if len(data) > maxCodeFile {
			return fmt.Errorf("the enrollment code file %s is too large to hold a code; it should hold only the code from your Use Pod dashboard (POD-ENROLL-...)", rf.codeFile)
		}
		rf.enrollmentCode = strings.TrimSpace(string(data))
		if rf.enrollmentCode == "" {
			return fmt.Errorf("the enrollment code file %s is empty; put the code from your Use Pod dashboard (POD-ENROLL-...) in it", rf.codeFile)
		}
	default:
		rf.enrollmentCode = strings.TrimSpace(getenv(enrollmentCodeEnv))
	}
	return nil
}

// agent is everything a running agent holds open.
type agent struct {
	cfgPath, dataDir string
	log              *slog.Logger
	engine           *engine.Engine
	ledger           *ledger.Keeper
	hardware         *hardware
	metrics          *metrics.Metrics  // served when [observability] prometheus_addr is set
	history          *diagnose.History // state changes, for support bundles
	selftest         *selftest.Tester  // the models' self-tests and their last results
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
	fs.StringVar(&rf.enrollmentCode, "enrollment-code", "", "enrollment `code` from your Use Pod dashboard (other users can see it in the process list; prefer --enrollment-code-file or $"+enrollmentCodeEnv+")")
	fs.StringVar(&rf.codeFile, "enrollment-code-file", "", "read the enrollment code from `file`")
	fs.BoolVar(&rf.allowInsecure, "allow-insecure", false, "allow a ws:// coordinator (local testing only)")
	fs.StringVar(&rf.keyring, "keyring", "", "where the identity key is kept: auto, system or file")
	fs.StringVar(&rf.api.addr, "api", "", "local API socket `path` (Windows: pipe name); default: agent.sock in the data folder")
	fs.StringVar(&rf.api.group, "api-group", "", "also let members of this OS `group` use the local API (the system service)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fmt.Errorf("run takes no arguments, got %q", fs.Arg(0)))
	}
	if err := rf.resolveEnrollmentCode(os.Getenv); err != nil {
		return c.usageError(err)
	}
	os.Unsetenv(enrollmentCodeEnv)
	if !rf.headless {
		return runDesktop(ctx, c, rf)
	}
	ln, addr, code := c.claimAPI(rf)
	if ln == nil {
		return code
	}
	defer ln.Close()
	a, code := c.openAgent(ctx, rf)
	if a == nil {
		return code
	}
	defer a.Close()
	a.log.Info("local API", "address", addr)
	apiCtx, stopAPI := context.WithCancel(context.Background()) // cancelling stops serving the local API
	defer stopAPI()
	go serveAPI(apiCtx, ln, a.newAPIServer(localapi.ServerOptions{}), a.log)
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

// openAgent is newAgent for the command line: on failure it has reported
// the error in one line and returns the exit code.
func (c *cli) openAgent(ctx context.Context, rf runFlags) (*agent, int) {
	a, err := c.newAgent(ctx, rf)
	if err != nil {
		return nil, c.startFailed(err)
	}
	return a, exitOK
}

// startFailed reports why the agent could not start: exit 2 for a problem
// with the settings or flags, 1 for anything else.
func (c *cli) startFailed(err error) int {
	var se *startError
	if errors.As(err, &se) && se.settings {
		return c.usageError(se.err)
	}
	return c.fail(err)
}

// startError is why newAgent failed, with what a failed-start window needs
// to explain it.
type startError struct {
	what     string // in plain words, what could not be done
	folder   string // the folder to open to fix it ("" when none helps)
	settings bool   // the settings file or a flag is wrong (exit 2)
	err      error
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// newAgent loads the config (with run's flag overrides), opens the key
// store and ledger, and builds the engine.
func (c *cli) newAgent(ctx context.Context, rf runFlags) (*agent, error) {
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
		return nil, &startError{what: "Your settings file has a mistake.", folder: filepath.Dir(cfgPath), settings: true, err: err}
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return nil, &startError{what: "Use Pod Agent could not find your user folders.", err: err}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, &startError{what: "Use Pod Agent could not create its data folder.", folder: filepath.Dir(dataDir), err: fmt.Errorf("create the data folder: %w", err)}
	}
	log, closeLog, err := c.newLogger(dataDir, cfg.Observability.LogLevel)
	if err != nil {
		return nil, &startError{what: "The log settings are wrong.", folder: filepath.Dir(cfgPath), settings: true, err: err}
	}
	for _, w := range f.Warnings {
		log.Warn(w)
	}
	if rf.codeOnCmdLine {
		log.Warn("the enrollment code was given on the command line, where other users of this computer can see it; use --enrollment-code-file or $" + enrollmentCodeEnv + " instead")
	}
	// An explicit [identity] key_path (the command-line agent's agent.toml)
	// is used in place; see identity.OpenConfigured.
	store, err := identity.OpenConfigured(ctx, cfg.Identity.Keyring, cfg.Identity.KeyPath, dataDir, log.With("component", "identity"))
	if err != nil {
		closeLog()
		return nil, &startError{what: "Use Pod Agent could not open the keychain or key file that keeps this computer's identity key.", folder: dataDir, err: err}
	}
	// A ledger that cannot be opened or written does not stop the agent:
	// the Keeper holds finished jobs, retries, and the problem is shown.
	led := ledger.OpenKeeper(filepath.Join(dataDir, "ledger.db"), log.With("component", "ledger"))
	startPaused, saveEarning := earningChoice(dataDir, log)
	a := &agent{cfgPath: cfgPath, dataDir: dataDir, log: log, ledger: led, history: &diagnose.History{}, closeLog: closeLog}
	eng, err := engine.New(engine.Options{
		Config:        cfg,
		KeyStore:      store,
		Ledger:        led,
		SaveConfig:    func(cfg config.Config) error { return config.Save(cfgPath, rf.keepOutOfFile(cfg, fileCfg)) },
		AllowInsecure: rf.allowInsecure,
		StartPaused:   startPaused, // the user's choice survives a restart
		SaveEarning:   saveEarning,
		Desktop:       !rf.headless, // idle and battery policies: the desktop's only
		Log:           log,
		// Set before Run starts any job: the metrics need the engine too.
		OnJobEnd: func(r jobs.Result) {
			a.metrics.JobEnded(r)
			// Done jobs are recorded before job_done is sent; the others
			// are put on record without holding up their goroutine.
			if e, ok := jobs.FailedEntry(r); ok {
				led.RecordLater(e)
			}
		},
	})
	if err != nil {
		led.Close()
		closeLog()
		return nil, &startError{what: "Use Pod Agent could not start.", err: err}
	}
	log.Info("starting", "version", version.Version, "config", cfgPath, "data_dir", dataDir,
		"coordinator", cfg.Coordinator.URL, "enrollment_code", config.RedactCode(cfg.Coordinator.EnrollmentCode), "key", store.Where())
	a.engine = eng
	a.hardware = newHardware(log, eng, !rf.headless)
	a.metrics = newOpsMetrics(a)
	a.selftest = &selftest.Tester{
		Streamer: &backend.Client{Log: log.With("component", "selftest")},
		Servers:  eng.Backends,
		Store:    selftest.OpenStore(filepath.Join(dataDir, "selftest.json")),
		Log:      log.With("component", "selftest"),
	}
	return a, nil
}

// claimAPI listens on the agent's local API address, which makes this
// process the one agent for it. When another agent holds it, it reports that
// and returns a nil listener with the exit code.
func (c *cli) claimAPI(rf runFlags) (net.Listener, string, int) {
	addr := rf.api.addr
	if addr == "" {
		_, dataDir, err := c.paths()
		if err != nil {
			return nil, "", c.fail(err)
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", c.fail(fmt.Errorf("create the data folder: %w", err))
		}
		addr = localapi.UserAddress(dataDir)
	}
	ln, err := listenAPI(addr, rf.api.group)
	if isAlreadyRunning(err) {
		return nil, addr, c.fail(errAnotherAgent(addr))
	}
	if err != nil {
		return nil, addr, c.fail(fmt.Errorf("open the local API at %s: %w", addr, err))
	}
	return ln, addr, exitOK
}

// runHeadless serves until SIGINT or SIGTERM, then lets running jobs finish
// (bounded) and exits 0.
func runHeadless(ctx context.Context, a *agent) int {
	tuneGC()
	defer startProfile(a.log)()
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- a.engine.Run(runCtx) }()
	go a.hardware.run(runCtx)
	a.startOps(runCtx)

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
