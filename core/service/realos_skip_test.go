//go:build !realos || !windows

package service

import "testing"

// Named so `make test-go` lists it: what this OS and build did not run.
func TestRealOSOnly(t *testing.T) {
	t.Skip("not run here: TestRealServiceManagerInstallUninstall (the real Windows service manager) runs only on Windows " +
		"with -tags realos, in the CI workflow's windows-latest job; launchd and systemd are driven through a fake host here")
}
