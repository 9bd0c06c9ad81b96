//go:build nogui

package app

import (
	"context"
	"errors"
)

// errNoDesktop is the answer of the desktop commands in a build without the
// desktop UI.
var errNoDesktop = errors.New("this build has no desktop window; use: usepod-agent run --headless")

// runDesktop is unavailable in a build without the desktop UI.
func runDesktop(ctx context.Context, c *cli, rf runFlags) int { return c.usageError(errNoDesktop) }

// cmdDashboard is unavailable in a build without the desktop UI.
func cmdDashboard(ctx context.Context, c *cli, args []string) int { return c.usageError(errNoDesktop) }
