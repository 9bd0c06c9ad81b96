//go:build !realos || !darwin

package tray

import "testing"

// Named so `make test-go` lists it: what this OS and build did not run.
func TestRealOSOnly(t *testing.T) {
	t.Skip("not run here: TestRealMenuBarTemplateIcons (the template icons on a real macOS menu bar) runs only on macOS " +
		"with -tags realos, in the CI workflow's macos-latest job")
}
