//go:build !(linux || darwin || windows)

package service

import (
	"errors"
	"fmt"
)

var errUnsupported = fmt.Errorf("service: %w on this OS", errors.ErrUnsupported)

func (h host) install(Options) error   { return errUnsupported }
func (h host) uninstall() error        { return errUnsupported }
func (h host) start() error            { return errUnsupported }
func (h host) stop() error             { return errUnsupported }
func (h host) status() (string, error) { return "", errUnsupported }
