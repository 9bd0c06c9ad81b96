//go:build linux || freebsd || openbsd || netbsd || dragonfly

package identity

import (
	"errors"
	"os"
	"strconv"
)

// checkSessionBus fails when there is no D-Bus session bus to find, before
// go-keyring is called: without an address, godbus runs dbus-launch, which
// starts a bus daemon of its own that outlives the agent and has no Secret
// Service on it. godbus also looks in /run/user/<uid>, so that counts.
func checkSessionBus() error {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return nil
	}
	dir := "/run/user/" + strconv.Itoa(os.Getuid())
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return nil
		}
	}
	return errNoSessionBus
}

var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
