//go:build !linux && !windows && !darwin

package presence

import (
	"context"
	"time"
)

func idle(context.Context) (time.Duration, bool) { return 0, false }
func onBattery(context.Context) (bool, bool)     { return false, false }
