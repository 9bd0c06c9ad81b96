//go:build darwin

package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// macOS's notification API (UserNotifications) needs cgo and, to post at
// all, a bundled and signed app. AppleScript's "display notification" needs
// neither, so it works the same for the bundled app and a bare binary,
// without cgo. The trade-off: macOS shows the notification as coming from
// Script Editor, with its icon, and the first one asks the user to allow
// Script Editor's notifications (System Settings > Notifications). A
// cgo UserNotifications sender is the way to have our own name and icon
// once the app ships only bundled.
//
// Not run in this repository's tests (no Mac); it compiles.

// sendTimeout bounds one notification.
const sendTimeout = 10 * time.Second

// The title and body are passed as arguments to the script (argv), not
// spliced into it, so no text needs quoting.
var script = []string{
	"-e", "on run argv",
	"-e", "display notification (item 2 of argv) with title (item 1 of argv)",
	"-e", "end run",
}

// Send shows a notification in the Notification Center.
func Send(title, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	args := append(append([]string{}, script...), title, body)
	if out, err := exec.CommandContext(ctx, "/usr/bin/osascript", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("display notification: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
