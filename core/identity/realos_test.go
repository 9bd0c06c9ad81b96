//go:build !realos || !(windows || darwin)

package identity

import "testing"

// Named so `make test-go` lists it: what this OS and build did not run.
func TestRealOSOnly(t *testing.T) {
	t.Skip("not run here: TestRealKeychainRoundTrip (the real Windows Credential Manager and macOS Keychain) " +
		"runs only on those systems with -tags realos, in the CI workflow's windows-latest and macos-latest jobs")
}
