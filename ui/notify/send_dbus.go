//go:build (linux || freebsd || openbsd || netbsd) && !android

package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// sendTimeout bounds one notification: a notification server that does not
// answer must not hold up the notifier for long.
const sendTimeout = 5 * time.Second

// Send shows a desktop notification through org.freedesktop.Notifications
// on the session bus, which every Linux and BSD desktop serves.
//
// It opens a private connection for each notification and closes it after:
// notifications are rare, and fyne.io/systray closes the process's shared
// session-bus connection when the tray quits, which would break a sender
// holding on to that one.
func Send(title, body string) error {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("connect to the session bus: %w", err)
	}
	defer conn.Close()

	icon := iconFile()
	if icon == "" {
		icon = desktopID // the icon the Linux package installs under this name
	}
	hints := map[string]dbus.Variant{
		"desktop-entry": dbus.MakeVariant(desktopID), // lets the desktop group and theme us
		"urgency":       dbus.MakeVariant(byte(1)),   // normal
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	var id uint32
	err = conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications").CallWithContext(ctx,
		"org.freedesktop.Notifications.Notify", 0,
		appName, uint32(0), icon, title, body, []string{}, hints, int32(-1)).Store(&id)
	if err != nil {
		return fmt.Errorf("send notification: %w", err)
	}
	return nil
}
