package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"usepod.ai/agent/core/service"
)

// cmdService installs and controls the headless agent as a system service
// (systemd, launchd, or the Windows service manager). --config and
// --data-dir, when given, are carried into the service definition.
func cmdService(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("service")
	user := fs.String("user", "", "account the service runs as (default: a system user usepod-agent on Linux)")
	printOnly := fs.Bool("print", false, "with install: print the service definition instead of installing it")
	// The action may come before its flags (service install --print).
	var action string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if action == "" && fs.NArg() > 0 {
		action = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return c.usageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if action == "" {
		return c.usageError(errors.New("service needs one action: install, uninstall, start, stop or status"))
	}
	var err error
	switch action {
	case "install":
		var o service.Options
		if o, err = c.serviceOptions(*user); err != nil {
			return c.fail(err)
		}
		if *printOnly {
			name, content, err := service.Render(runtime.GOOS, o)
			if err != nil {
				return c.fail(err)
			}
			fmt.Fprintf(c.stdout, "# %s\n%s", name, content)
			if !bytes.HasSuffix(content, []byte("\n")) { // Windows: a command line, no newline of its own
				fmt.Fprintln(c.stdout)
			}
			return exitOK
		}
		if err = service.Install(o); err == nil {
			err = service.Start()
		}
		if err == nil {
			fmt.Fprintln(c.stdout, "Installed and started the usepod-agent service; it starts at boot.")
		}
	case "uninstall":
		if err = service.Uninstall(); err == nil {
			fmt.Fprintln(c.stdout, "Removed the usepod-agent service. Its data folder is kept (the ledger and the identity key).")
		}
	case "start":
		err = service.Start()
	case "stop":
		err = service.Stop()
	case "status":
		var st string
		if st, err = service.Status(); err == nil {
			fmt.Fprintln(c.stdout, st)
		}
	default:
		return c.usageError(fmt.Errorf("unknown service action %q: use install, uninstall, start, stop or status", action))
	}
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// serviceOptions carries the flags the user gave into the service; what
// they left out gets the service's own defaults (system folders, not the
// user's).
func (c *cli) serviceOptions(user string) (service.Options, error) {
	exe, err := os.Executable()
	if err != nil {
		return service.Options{}, fmt.Errorf("find this program: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return service.Options{}, fmt.Errorf("find this program: %w", err)
	}
	o := service.Options{Exe: exe, User: user}
	if c.configPath != "" {
		if o.Config, err = filepath.Abs(c.configPath); err != nil {
			return o, err
		}
	}
	if c.dataDir != "" {
		if o.DataDir, err = filepath.Abs(c.dataDir); err != nil {
			return o, err
		}
	}
	return o, nil
}
