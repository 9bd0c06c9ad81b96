//go:build !(linux || freebsd || openbsd || netbsd || dragonfly || darwin || windows)

package autostart

import (
	"errors"
	"fmt"
)

var errUnsupported = fmt.Errorf("autostart: %w on this OS", errors.ErrUnsupported)

func (e Entry) Enable(exe string, args []string) error { return errUnsupported }
func (e Entry) Disable() error                         { return errUnsupported }
func (e Entry) Enabled() (bool, error)                 { return false, errUnsupported }
