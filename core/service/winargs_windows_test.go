package service

import (
	"syscall"
	"testing"
)

// escapeArg is a copy of syscall.EscapeArg; on Windows, check they agree.
func TestEscapeArgMatchesSyscall(t *testing.T) {
	for _, s := range []string{"", "a", "a b", `a\b`, `a\"b`, `a b\`, `a"b`, `\\server\share\x y\`, "\t"} {
		if got, want := escapeArg(s), syscall.EscapeArg(s); got != want {
			t.Errorf("escapeArg(%q) = %q, syscall.EscapeArg gives %q", s, got, want)
		}
	}
}
