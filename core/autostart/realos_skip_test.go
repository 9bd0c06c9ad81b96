//go:build !realos || !(windows || darwin)

package autostart

import "testing"

// Named so `make test-go` lists it: what this OS and build did not run.
func TestRealOSOnly(t *testing.T) {
	t.Skip("not run here: TestRealLoginItemRoundTrip (the real HKCU Run value on Windows, the real ~/Library/LaunchAgents on macOS) " +
		"runs only on those systems with -tags realos, in the CI workflow's windows-latest and macos-latest jobs; " +
		"make test-windows also checks the Run value under wine")
}
