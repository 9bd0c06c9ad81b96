// Package service runs the agent headless as a system service, for servers:
// a hardened systemd unit on Linux, a launchd daemon on macOS and a service
// registered with the Windows service control manager.
//
// Render is pure and works for any OS, so a user can see what Install will
// write. Install, Uninstall, Start, Stop and Status act on this machine.
package service

import (
	"errors"
	"fmt"
	"strings"
)

// Names of the service in each manager.
const (
	Unit    = "usepod-agent.service"                           // systemd
	Label   = "ai.usepod.agent"                                // launchd
	WinName = "UsePodAgent"                                    // Windows service name
	display = "Use Pod Agent"                                  // Windows display name
	summary = "Sells this machine's idle GPU time on Use Pod." // descriptions
)

// Where the rendered definitions live.
const (
	UnitPath  = "/etc/systemd/system/" + Unit
	PlistPath = "/Library/LaunchDaemons/" + Label + ".plist"
	// WinRegistryPath is where the service manager keeps the entry; Render
	// names it, but the entry is made through the manager, not written.
	WinRegistryPath = `HKLM\SYSTEM\CurrentControlSet\Services\` + WinName
)

// ErrNotOurs is returned when a service definition exists under our name
// but was not written by Install; it is left alone.
var ErrNotOurs = errors.New("service definition was not written by usepod-agent")

// Options say what the service runs.
type Options struct {
	// Exe is the absolute path of the usepod-agent binary.
	Exe string
	// Config is the agent.toml the service reads (--config).
	Config string
	// DataDir holds the identity key, ledger and state (--data-dir).
	DataDir string
	// User is the account the service runs as: a system user on Linux
	// (created if missing), an existing user on macOS (empty: root), a
	// service account such as `NT AUTHORITY\LocalService` on Windows
	// (empty: LocalSystem).
	User string
	// API is where the service serves its local API (--api), so that
	// `usepod-agent status` and the desktop app find it.
	API string
	// APIGroup is the OS group whose members may use the local API
	// (--api-group) besides the service's own user; empty on macOS and
	// Windows, where the socket or pipe admits administrators only.
	APIGroup string
}

// Defaults are the options used for empty fields of Options, per OS.
func Defaults(goos string) Options {
	switch goos {
	case "darwin":
		dir := "/Library/Application Support/Use Pod Agent"
		return Options{Config: dir + "/agent.toml", DataDir: dir, API: "/var/run/usepod-agent/agent.sock"}
	case "windows":
		dir := `C:\ProgramData\UsePodAgent`
		return Options{Config: dir + `\agent.toml`, DataDir: dir, API: `\\.\pipe\usepod-agent-service`}
	default:
		return Options{
			Config:   "/etc/usepod-agent/agent.toml",
			DataDir:  "/var/lib/usepod-agent",
			User:     "usepod-agent",
			API:      "/run/usepod-agent/agent.sock",
			APIGroup: "usepod-agent",
		}
	}
}

// withDefaults fills the empty fields from Defaults(goos).
func (o Options) withDefaults(goos string) Options {
	d := Defaults(goos)
	if o.Config == "" {
		o.Config = d.Config
	}
	if o.DataDir == "" {
		o.DataDir = d.DataDir
	}
	if o.User == "" {
		o.User = d.User
	}
	if o.API == "" {
		o.API = d.API
	}
	if o.APIGroup == "" && o.User == d.User {
		o.APIGroup = d.APIGroup // the default user's own group; another user's is theirs to share
	}
	return o
}

// Command is the argument vector the service runs, executable first.
func (o Options) Command() []string {
	cmd := []string{o.Exe, "--config", o.Config, "--data-dir", o.DataDir, "run", "--headless", "--keyring", "file"}
	if o.API != "" {
		cmd = append(cmd, "--api", o.API)
	}
	if o.APIGroup != "" {
		cmd = append(cmd, "--api-group", o.APIGroup)
	}
	return cmd
}

// Render returns the service definition for goos ("linux", "darwin" or
// "windows") and where it goes, filling empty options from Defaults. It
// touches nothing.
//
// On Windows there is no file: filename is the registry key the service
// manager keeps, and content the command line it runs.
func Render(goos string, o Options) (filename string, content []byte, err error) {
	o = o.withDefaults(goos)
	if err := o.check(goos); err != nil {
		return "", nil, err
	}
	switch goos {
	case "linux":
		return UnitPath, systemdUnit(o), nil
	case "darwin":
		return PlistPath, launchdPlist(o), nil
	case "windows":
		return WinRegistryPath, []byte(windowsCommandLine(o.Command())), nil
	}
	return "", nil, fmt.Errorf("service: %w on %s", errors.ErrUnsupported, goos)
}

// check validates filled-in options for goos.
func (o Options) check(goos string) error {
	for _, f := range []struct{ name, path string }{
		{"executable", o.Exe}, {"config", o.Config}, {"data dir", o.DataDir},
	} {
		if !isAbs(goos, f.path) {
			return fmt.Errorf("service: %s %q is not an absolute path", f.name, f.path)
		}
		if strings.ContainsAny(f.path, "\x00\n\r") {
			return fmt.Errorf("service: %s %q holds a control character", f.name, f.path)
		}
		if goos == "linux" {
			// ProtectHome=true hides these from the service.
			for _, hidden := range []string{"/home", "/root", "/run/user"} {
				if f.path == hidden || strings.HasPrefix(f.path, hidden+"/") {
					return fmt.Errorf("service: %s %s is under %s, which the service cannot see (ProtectHome=true); "+
						"put it elsewhere, e.g. the binary in /usr/local/bin, the config in /etc/usepod-agent", f.name, f.path, hidden)
				}
			}
		}
	}
	if goos == "linux" && o.User == "" {
		return errors.New("service: no user to run as")
	}
	if strings.ContainsAny(o.User, "\x00\n\r") {
		return fmt.Errorf("service: user %q holds a control character", o.User)
	}
	return nil
}

func isAbs(goos, p string) bool {
	if goos != "windows" {
		return strings.HasPrefix(p, "/")
	}
	if strings.HasPrefix(p, `\\`) { // UNC
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		('a' <= p[0]|0x20 && p[0]|0x20 <= 'z')
}
