// Package app wires the agent together: flags and subcommands, the logger,
// the config, the key store, the ledger, the engine, and the desktop UI or
// the headless loop. It holds no business logic.
package app

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/logfile"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // something went wrong while running
	exitUsage = 2 // bad flags, arguments or config
)

// globals are the flags every subcommand accepts, before or after its name.
type globals struct {
	configPath string
	dataDir    string
	logLevel   string
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.configPath, "config", g.configPath, "settings file `path` (default: the user config folder's usepod-agent/agent.toml)")
	fs.StringVar(&g.dataDir, "data-dir", g.dataDir, "`folder` for the ledger, logs and the fallback key file")
	fs.StringVar(&g.logLevel, "log-level", g.logLevel, "debug, info, warn or error (default: the config's, else info)")
}

// command is one subcommand.
type command struct {
	name, args, help string
	run              func(ctx context.Context, c *cli, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "[--headless] [--coordinator URL] [--enrollment-code CODE] [--allow-insecure] [--keyring auto|system|file] [--api ADDR]", "serve jobs (with a tray icon unless --headless)", cmdRun},
		{"dashboard", "[--settings] [--api ADDR]", "open the dashboard of the running agent", cmdDashboard},
		{"status", "[--json] [--api ADDR]", "show what the running agent is doing", cmdStatus},
		{"pause", "[--api ADDR]", "stop taking new jobs (running ones finish)", cmdPause},
		{"resume", "[--api ADDR]", "take jobs again", cmdResume},
		{"earnings", "[--json]", "show what the agent has earned (an estimate)", cmdEarnings},
		{"jobs", "[--since DURATION|DATE] [--model M] [--failed] [--csv|--json] [--limit N]", "list the jobs on record, failed ones too, with totals", cmdJobs},
		{"selftest", "[MODEL...] [--json] [--api ADDR]", "test each model with a short generation through the running agent", cmdSelftest},
		{"identity", "[--keyring auto|system|file]", "show the public key, provider id and where the key is kept", cmdIdentity},
		{"validate", "", "check the settings file and exit", cmdValidate},
		{"diagnose", "--out FILE.zip [--api ADDR]", "write a support bundle (no keys, codes or passwords)", cmdDiagnose},
		{"import", "AGENT_TOML [IDENTITY_KEY]", "take over the command-line agent's settings and identity", cmdImport},
		{"service", "install|uninstall|start|stop|status", "run the agent as a background service (servers)", cmdService},
		{"version", "", "print the version", cmdVersion},
	}
}

// cli carries what every subcommand shares.
type cli struct {
	globals
	stdout, stderr io.Writer
}

// Run runs the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	fs := c.flagSet("usepod-agent")
	if err := fs.Parse(args); err != nil {
		return c.usageError(err)
	}
	rest := fs.Args()
	name := "run" // no subcommand: the desktop app
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "help" {
		c.printUsage()
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd.run(ctx, c, rest)
		}
	}
	return c.usageError(fmt.Errorf("unknown command %q (try: usepod-agent help)", name))
}

// flagSet returns a flag set with the global flags registered.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by usageError
	c.globals.register(fs)
	return fs
}

// parse parses a subcommand's flags; on error it reports and returns false.
func (c *cli) parse(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printUsage()
			return false, exitOK
		}
		return false, c.usageError(err)
	}
	return true, 0
}

func (c *cli) usageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		c.printUsage()
		return exitOK
	}
	fmt.Fprintf(c.stderr, "usepod-agent: %s\n", oneLine(err.Error()))
	return exitUsage
}

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "usepod-agent: %s\n", err)
	return exitError
}

func (c *cli) printUsage() {
	w := c.stdout
	fmt.Fprintln(w, "Usage: usepod-agent [--config PATH] [--data-dir DIR] [--log-level LEVEL] [COMMAND] [FLAGS]")
	fmt.Fprintln(w, "\nWith no command, opens the desktop app.\n\nCommands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", cmd.name, cmd.args, cmd.help)
	}
}

// oneLine folds a multi-line error for the one-line usage report.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// paths resolves the config file and data folder.
func (c *cli) paths() (cfgPath, dataDir string, err error) {
	cfgPath, dataDir = c.configPath, c.dataDir
	if cfgPath == "" {
		if cfgPath, err = config.Path(); err != nil {
			return "", "", err
		}
	}
	if dataDir == "" {
		if dataDir, err = config.DefaultDataDir(); err != nil {
			return "", "", err
		}
	}
	return filepath.Clean(cfgPath), filepath.Clean(dataDir), nil
}

// loadConfig reads the settings file, applies edit (flag overrides) and
// validates the result. Any problem is a usage error naming file, line and
// key.
func (c *cli) loadConfig(edit func(*config.Config)) (config.Config, string, *config.File, error) {
	cfgPath, _, err := c.paths()
	if err != nil {
		return config.Config{}, "", nil, err
	}
	f, err := config.LoadFile(cfgPath)
	if err != nil {
		return config.Config{}, cfgPath, nil, err
	}
	if edit != nil {
		edit(&f.Config)
		f.Config.Normalize()
	}
	if err := f.Validate(); err != nil {
		return config.Config{}, cfgPath, f, err
	}
	return f.Config, cfgPath, f, nil
}

// newLogger logs text to stderr and to the size-capped agent.log in the
// data folder. The returned closer closes the file.
func (c *cli) newLogger(dataDir, cfgLevel string) (*slog.Logger, func(), error) {
	return c.newLoggerTo(dataDir, cfgLevel, "agent.log")
}

// newLoggerTo is newLogger with the log file's name: each process of the
// desktop app keeps its own.
func (c *cli) newLoggerTo(dataDir, cfgLevel, name string) (*slog.Logger, func(), error) {
	level := c.logLevel
	if level == "" {
		level = cfgLevel
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(cmp.Or(level, "info"))); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	lf, err := logfile.Open(filepath.Join(dataDir, "logs", name))
	if err != nil {
		return nil, nil, err
	}
	// A failing stderr (no console on Windows) must not silence the file.
	var out *logfile.FanOut
	out = logfile.NewFanOut(func(name string, err error) {
		out.WriteOthersLocked(name, fmt.Appendf(nil, "level=WARN msg=\"cannot write the log to %s; logging continues elsewhere\" err=%q\n", name, err.Error()))
	}, logfile.Named{Name: "stderr", W: c.stderr}, logfile.Named{Name: "the log file", W: lf})
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: lv})
	return slog.New(h), func() { lf.Close() }, nil
}

func cmdVersion(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("version")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(c.stdout, "usepod-agent", versionString())
	return exitOK
}

func cmdValidate(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("validate")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	_, path, f, err := c.loadConfig(nil)
	if err != nil {
		return c.usageError(err)
	}
	for _, w := range f.Warnings {
		fmt.Fprintln(c.stderr, "warning:", w)
	}
	if !f.Exists {
		fmt.Fprintf(c.stdout, "%s does not exist yet; the defaults are valid\n", path)
		return exitOK
	}
	fmt.Fprintf(c.stdout, "%s is valid\n", path)
	return exitOK
}
