package presence

import (
	"bytes"
	"strconv"
	"time"
)

// parseHIDIdle finds `"HIDIdleTime" = 123456789` in ioreg's output.
func parseHIDIdle(out []byte) (time.Duration, bool) {
	_, rest, ok := bytes.Cut(out, []byte(`"HIDIdleTime" = `))
	if !ok {
		return 0, false
	}
	end := bytes.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	ns, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ns), true
}

// parsePmset reads `pmset -g batt`: "Now drawing from 'Battery Power'" or
// "'AC Power'".
func parsePmset(out []byte) (battery, ok bool) {
	switch {
	case bytes.Contains(out, []byte("'Battery Power'")):
		return true, true
	case bytes.Contains(out, []byte("'AC Power'")):
		return false, true
	}
	return false, false
}
