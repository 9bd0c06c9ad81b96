// Package presence reads whether the user is at the computer and whether
// it runs on battery, for the desktop's earning policies: the OS's
// last-input time and its power source. Each reader says when it cannot
// tell (ok false); the policies then do nothing.
package presence

import (
	"context"
	"time"
)

// Idle is how long keyboard and mouse have been idle; ok is false when the
// OS does not say (no display, an unsupported desktop).
func Idle(ctx context.Context) (d time.Duration, ok bool) { return idle(ctx) }

// OnBattery reports whether the machine runs on battery now; ok is false
// when it cannot tell (a desktop PC has no battery: false, true).
func OnBattery(ctx context.Context) (battery, ok bool) { return onBattery(ctx) }
