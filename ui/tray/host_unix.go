//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"
)

// HostPresent reports whether a StatusNotifier host is running on the
// session bus. fyne.io/systray registers our icon with the
// org.kde.StatusNotifierWatcher; a desktop without a watcher, or with a
// watcher but no host (stock GNOME without the AppIndicator extension),
// accepts the icon and shows it nowhere. It gives up after half a second
// and then says there is no tray, which keeps the window reachable.
func HostPresent() bool {
	conn, err := dbus.SessionBus() // the shared connection; reopened if the tray closed it
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var hasOwner bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0,
		"org.kde.StatusNotifierWatcher").Store(&hasOwner); err != nil || !hasOwner {
		return false
	}
	var registered dbus.Variant
	err = conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher").CallWithContext(ctx,
		"org.freedesktop.DBus.Properties.Get", 0,
		"org.kde.StatusNotifierWatcher", "IsStatusNotifierHostRegistered").Store(&registered)
	if err != nil {
		return true // a watcher without the property: assume it has a host, as most do
	}
	on, ok := registered.Value().(bool)
	return !ok || on
}
