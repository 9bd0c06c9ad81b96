package presence

import (
	"context"
	"os/exec"
	"time"
)

// idle reads IOHIDSystem's HIDIdleTime (nanoseconds) from ioreg.
func idle(ctx context.Context) (time.Duration, bool) {
	out, err := exec.CommandContext(ctx, "ioreg", "-c", "IOHIDSystem", "-d", "4").Output()
	if err != nil {
		return 0, false
	}
	return parseHIDIdle(out)
}

// onBattery asks pmset which power source draws.
func onBattery(ctx context.Context) (bool, bool) {
	out, err := exec.CommandContext(ctx, "pmset", "-g", "batt").Output()
	if err != nil {
		return false, false
	}
	return parsePmset(out)
}
