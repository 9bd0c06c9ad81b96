package presence

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
)

// idle asks the X server's screensaver extension, then GNOME's and the
// freedesktop idle monitors over the session bus (Wayland sessions).
func idle(ctx context.Context) (time.Duration, bool) {
	if os.Getenv("DISPLAY") != "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		if d, ok := x11Idle(); ok {
			return d, true
		}
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return 0, false
	}
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	var ms uint64
	if err := conn.Object("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core").
		CallWithContext(ctx, "org.gnome.Mutter.IdleMonitor.GetIdletime", 0).Store(&ms); err == nil {
		return time.Duration(ms) * time.Millisecond, true
	}
	var ms32 uint32 // KDE: milliseconds
	if err := conn.Object("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver").
		CallWithContext(ctx, "org.freedesktop.ScreenSaver.GetSessionIdleTime", 0).Store(&ms32); err == nil {
		return time.Duration(ms32) * time.Millisecond, true
	}
	return 0, false
}

// x11Idle reads MIT-SCREEN-SAVER's ms-since-user-input.
func x11Idle() (time.Duration, bool) {
	x, err := xgb.NewConn()
	if err != nil {
		return 0, false
	}
	defer x.Close()
	if err := screensaver.Init(x); err != nil {
		return 0, false
	}
	root := xproto.Setup(x).DefaultScreen(x).Root
	info, err := screensaver.QueryInfo(x, xproto.Drawable(root)).Reply()
	if err != nil {
		return 0, false
	}
	return time.Duration(info.MsSinceUserInput) * time.Millisecond, true
}

// onBattery reads /sys/class/power_supply: on battery when a mains supply
// is offline and a battery discharges.
func onBattery(context.Context) (bool, bool) {
	return sysfsOnBattery("/sys/class/power_supply")
}

func sysfsOnBattery(dir string) (battery, ok bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, false
	}
	read := func(dev, name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, dev, name))
		return strings.TrimSpace(string(b))
	}
	mainsOnline, discharging, seen := false, false, false
	for _, e := range entries {
		switch read(e.Name(), "type") {
		case "Mains", "USB", "USB_C", "USB_PD":
			seen = true
			mainsOnline = mainsOnline || read(e.Name(), "online") == "1"
		case "Battery":
			if read(e.Name(), "scope") == "Device" {
				continue // a mouse's or headset's battery
			}
			seen = true
			discharging = discharging || read(e.Name(), "status") == "Discharging"
		}
	}
	if !seen {
		return false, true // no battery: a desktop or a server
	}
	return discharging && !mainsOnline, true
}
