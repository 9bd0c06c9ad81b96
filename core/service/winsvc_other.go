//go:build !windows

package service

import (
	"context"
	"errors"
	"fmt"
)

// RunningAsWindowsService reports false: this is not Windows.
func RunningAsWindowsService() bool { return false }

// RunWindowsService fails with errors.ErrUnsupported: this is not Windows.
func RunWindowsService(run func(ctx context.Context) error) error {
	return fmt.Errorf("service: Windows service: %w", errors.ErrUnsupported)
}
