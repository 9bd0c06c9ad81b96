package telemetry

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTestdataMatchesShared proves testdata/ still holds byte-exact copies
// of the shared NVIDIA recordings: ../shared/fixtures/real/nvidia beside
// the module root, or $USEPOD_SHARED/fixtures/real/nvidia. Without the
// folder it skips on a developer's machine and fails in CI (CI=true).
func TestTestdataMatchesShared(t *testing.T) {
	shared := filepath.Join(os.Getenv("USEPOD_SHARED"), "fixtures", "real", "nvidia")
	if os.Getenv("USEPOD_SHARED") == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		shared = filepath.Join(root, "..", "shared", "fixtures", "real", "nvidia")
	}
	if _, err := os.Stat(shared); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no shared recordings at %s: CI must put a copy of shared/ beside the clone (or set USEPOD_SHARED)", shared)
		}
		t.Skipf("no shared recordings at %s (set USEPOD_SHARED to the shared folder to compare)", shared)
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		got, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(shared, e.Name()))
		if err != nil {
			t.Errorf("%s: not among the shared recordings: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: differs from the shared recording", e.Name())
		}
	}
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's folder")
		}
		dir = parent
	}
}
