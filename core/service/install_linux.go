package service

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
)

// home is the system user's home: the directory StateDirectory= manages.
const home = "/var/lib/usepod-agent"

func (h host) unit() definition { return definition{path: h.path(UnitPath), marker: unitMarker} }

func (h host) install(o Options) error {
	o = o.withDefaults("linux")
	_, unit, err := Render("linux", o)
	if err != nil {
		return err
	}
	if err := h.needRoot("install"); err != nil {
		return err
	}
	if err := h.ensureUser(o.User); err != nil {
		return err
	}
	if err := h.makeDataDir(o.DataDir, o.User); err != nil {
		return err
	}
	if err := h.shareConfig(o.Config, o.User); err != nil {
		return err
	}
	if err := h.unit().write(unit); err != nil {
		return err
	}
	if _, err := h.run("systemctl", "daemon-reload"); err != nil {
		return err
	}
	_, err = h.run("systemctl", "enable", Unit)
	return err
}

// ensureUser creates the system user when it does not exist yet.
func (h host) ensureUser(name string) error {
	_, err := h.lookup(name)
	if err == nil {
		return nil
	}
	if !errors.As(err, new(user.UnknownUserError)) {
		return fmt.Errorf("service: look up user %s: %w", name, err)
	}
	// --user-group: the user's own group is the one the local API admits.
	_, err = h.run("useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home",
		"--shell", "/usr/sbin/nologin", name)
	return err
}

// shareConfig lets the service's group read an existing config, and no one
// else who is not its owner: it may hold backend API keys. A missing config
// is fine; the agent then starts from the defaults.
func (h host) shareConfig(path, owner string) error {
	p := h.path(path)
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	_, gid, err := h.ownIDs(owner)
	if err != nil {
		return err
	}
	if err := h.chown(p, -1, gid); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := os.Chmod(p, fi.Mode().Perm()&^0o037|0o040); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

func (h host) uninstall() error {
	if err := h.needRoot("uninstall"); err != nil {
		return err
	}
	u := h.unit()
	exists, ours, err := u.state()
	switch {
	case err != nil:
		return err
	case !exists:
		return nil
	case !ours:
		return u.notOurs()
	}
	if _, err := h.run("systemctl", "disable", "--now", Unit); err != nil {
		return err
	}
	if err := os.Remove(u.path); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	_, err = h.run("systemctl", "daemon-reload")
	return err
}

func (h host) start() error {
	if err := h.needRoot("start"); err != nil {
		return err
	}
	_, err := h.run("systemctl", "start", Unit)
	return err
}

func (h host) stop() error {
	if err := h.needRoot("stop"); err != nil {
		return err
	}
	_, err := h.run("systemctl", "stop", Unit)
	return err
}

func (h host) status() (string, error) {
	out, err := h.run("systemctl", "show", "--property=LoadState,ActiveState,SubState,UnitFileState", Unit)
	if err != nil {
		return "", err
	}
	p := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			p[k] = v
		}
	}
	if p["LoadState"] == "not-found" || p["LoadState"] == "" {
		return "not installed", nil
	}
	return fmt.Sprintf("%s (%s), %s", p["ActiveState"], p["SubState"], p["UnitFileState"]), nil
}
