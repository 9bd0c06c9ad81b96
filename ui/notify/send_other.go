//go:build !windows && !darwin && !((linux || freebsd || openbsd || netbsd) && !android)

package notify

import "errors"

// Send reports that this system has no desktop notifications we know of.
func Send(title, body string) error {
	return errors.New("desktop notifications are not supported on this system")
}
