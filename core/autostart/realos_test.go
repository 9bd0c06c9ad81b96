//go:build realos && (windows || darwin)

package autostart

import (
	"os"
	"testing"
)

// The real login item of a real Windows (HKCU\...\Run) or macOS
// (~/Library/LaunchAgents) user: Enable makes Enabled true, Disable false
// again, and nothing is left behind. Runs in the CI workflow's
// windows-latest and macos-latest jobs (go test -tags realos).
func TestRealLoginItemRoundTrip(t *testing.T) {
	was, err := Enabled()
	if err != nil {
		t.Fatal(err)
	}
	if was {
		t.Fatal("the login item is already set on this machine; the test would remove it (run it on a CI runner)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Disable() })
	if err := Enable(exe, []string{"run"}); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(); err != nil || !on {
		t.Fatalf("after Enable: Enabled() = %v, %v", on, err)
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(); err != nil || on {
		t.Fatalf("after Disable: Enabled() = %v, %v", on, err)
	}
}
