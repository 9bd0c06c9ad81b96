//go:build realos && windows

package service

import (
	"os"
	"path/filepath"
	"testing"
)

// The real Windows service manager (needs an elevated prompt, as the CI
// workflow's windows-latest runner has): Install registers the service,
// Status reads it as stopped, Uninstall removes it. Wine has a service
// manager too, but not Windows' (no delayed start, no recovery actions, no
// service accounts), so only this job proves it.
func TestRealServiceManagerInstallUninstall(t *testing.T) {
	if st, err := Status(); err != nil || st != "not installed" {
		t.Fatalf("before: Status() = %q, %v; the test needs a machine without the service (a CI runner)", st, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Cleanup(func() { Uninstall() })
	if err := Install(Options{Exe: exe, Config: filepath.Join(dir, "agent.toml"), DataDir: filepath.Join(dir, "data")}); err != nil {
		t.Fatal(err)
	}
	if st, err := Status(); err != nil || st != "stopped" {
		t.Fatalf("after Install: Status() = %q, %v; want stopped", st, err)
	}
	if err := Uninstall(); err != nil {
		t.Fatal(err)
	}
	if st, err := Status(); err != nil || st != "not installed" {
		t.Fatalf("after Uninstall: Status() = %q, %v", st, err)
	}
}
