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

	"usepod.ai/agent/core/agent"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/core/service"
	"usepod.ai/agent/core/version"
)

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
	ln, addr, err := c.claimAPI(rf)
	if isAlreadyRunning(err) {
		return c.fail(errAnotherAgent(addr))
	}
	if err != nil {
		return c.fail(err)
	}
	defer ln.Close()
	r, err := c.newAgent(ctx, rf, ln, agentExtras{})
	if err != nil {
		return c.startFailed(err)
	}
	defer r.Close()
	if service.RunningAsWindowsService() {
		// The service manager's stop request cancels sctx: drain as on SIGTERM.
		err := service.RunWindowsService(func(sctx context.Context) error {
			if code := runHeadless(sctx, r); code != exitOK {
				return fmt.Errorf("the agent stopped with exit code %d", code)
			}
			return nil
		})
		if err != nil {
			return c.fail(err)
		}
		return exitOK
	}
	return runHeadless(ctx, r)
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

// runningAgent is an agent with the logger the app made for it.
type runningAgent struct {
	*agent.Agent
	log      *slog.Logger
	dataDir  string
	closeLog func()
}

// Close closes the agent's ledger, then its log.
func (r *runningAgent) Close() {
	r.Agent.Close()
	r.closeLog()
}

// agentExtras are the desktop's local API extras (see agent.Options).
type agentExtras struct {
	openDashboard func(settings bool) error
	quit          func()
}

// newAgent loads the config (with run's flag overrides), makes the logger,
// opens the key store and builds the agent, which serves its local API on
// api once it runs.
func (c *cli) newAgent(ctx context.Context, rf runFlags, api net.Listener, x agentExtras) (*runningAgent, error) {
	var fileCfg config.Config // as the file has it, before the flags
	over := rf.overrides()
	cfg, cfgPath, f, err := c.loadConfig(func(cfg *config.Config) {
		fileCfg = cfg.Clone()
		over.Apply(cfg)
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
	store, err := identity.OpenConfigured(ctx, cfg.Identity.Keyring, cfg.Identity.KeyPath, dataDir, log)
	if err != nil {
		closeLog()
		return nil, &startError{what: "Use Pod Agent could not open the keychain or key file that keeps this computer's identity key.", folder: dataDir, err: err}
	}
	a, err := agent.New(agent.Options{
		Config:        cfg,
		ConfigPath:    cfgPath,
		SaveConfig:    func(cfg config.Config) error { return config.Save(cfgPath, over.KeepOut(cfg, fileCfg)) },
		DataDir:       dataDir,
		KeyStore:      store,
		AllowInsecure: rf.allowInsecure,
		Desktop:       !rf.headless,
		API:           api,
		OpenDashboard: x.openDashboard,
		Quit:          x.quit,
		Log:           log,
	})
	if err != nil {
		closeLog()
		return nil, &startError{what: "Use Pod Agent could not start.", err: err}
	}
	log.Info("starting", "version", version.Version, "config", cfgPath, "data_dir", dataDir,
		"coordinator", cfg.Coordinator.URL, "enrollment_code", config.RedactCode(cfg.Coordinator.EnrollmentCode), "key", store.Where())
	return &runningAgent{Agent: a, log: log, dataDir: dataDir, closeLog: closeLog}, nil
}

// claimAPI listens on the agent's local API address (--api, else this
// user's in the data folder), which makes this process the one agent for
// it. When another agent holds it, the error is localapi.ErrAlreadyRunning
// and addr says where.
func (c *cli) claimAPI(rf runFlags) (ln net.Listener, addr string, err error) {
	addr = rf.api.addr
	if addr == "" {
		_, dataDir, err := c.paths()
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create the data folder: %w", err)
		}
		addr = localapi.UserAddress(dataDir)
	}
	ln, err = localapi.Listen(addr, localapi.ListenOptions{Group: rf.api.group})
	if err != nil && !isAlreadyRunning(err) {
		err = fmt.Errorf("open the local API at %s: %w", addr, err)
	}
	return ln, addr, err
}

// runHeadless serves until SIGINT or SIGTERM, then lets running jobs finish
// (bounded) and exits 0.
func runHeadless(ctx context.Context, r *runningAgent) int {
	tuneGC()
	defer startProfile(r.log)()
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Cancelling runCtx stops the engine, the sampler and the local API.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(runCtx) }()

	select {
	case <-r.Failed():
		cancelRun()
		<-runErr
		return exitError
	case <-sigCtx.Done():
	}
	stop() // a second signal kills at once
	dctx, cancel := context.WithTimeout(context.Background(), agent.DrainTimeout)
	defer cancel()
	r.Drain(dctx)
	cancelRun()
	if err := <-runErr; err != nil {
		return exitError
	}
	r.log.Info("stopped")
	return exitOK
}

// overrides are the run flags that override settings for this run only.
func (rf runFlags) overrides() config.Overrides {
	return config.Overrides{CoordinatorURL: rf.coordinator, EnrollmentCode: rf.enrollmentCode, AllowInsecure: rf.allowInsecure, Keyring: rf.keyring}
}
