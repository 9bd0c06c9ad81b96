//go:build nogui

package app

import (
	"context"
	"errors"
)

// runDesktop is unavailable in a build without the desktop UI.
func runDesktop(ctx context.Context, c *cli, rf runFlags) int {
	return c.usageError(errors.New("this build has no desktop window; use: usepod-agent run --headless"))
}
