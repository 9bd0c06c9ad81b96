package appstate

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEarningRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if on, err := LoadEarning(dir); !on || err != nil {
		t.Fatalf("first run: LoadEarning = %v, %v; want true, nil", on, err)
	}
	for _, want := range []bool{false, true, false} {
		if err := SaveEarning(dir, want); err != nil {
			t.Fatal(err)
		}
		if got, err := LoadEarning(dir); got != want || err != nil {
			t.Fatalf("LoadEarning = %v, %v; want %v", got, err, want)
		}
	}
}

func TestEarningDoubtMeansPaused(t *testing.T) {
	for name, body := range map[string]string{"damaged": "{earn", "wrong type": `{"earning":"yes"}`} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, File), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if on, err := LoadEarning(dir); on || err == nil {
			t.Errorf("%s: LoadEarning = %v, %v; want paused with an error", name, on, err)
		}
	}
}

func TestSaveEarningFailureIsReported(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveEarning(notADir, false); err == nil {
		t.Fatal("SaveEarning into a file (not a folder) succeeded")
	}
}
