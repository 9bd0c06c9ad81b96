package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"usepod.ai/agent/core/appstate"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
)

// newEngineAsOpenAgent builds an engine from the data folder's saved
// choice, as New does.
func newEngineAsOpenAgent(t *testing.T, dataDir string) *engine.Engine {
	t.Helper()
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	startPaused, save := earningChoice(dataDir, slog.New(slog.DiscardHandler))
	eng, err := engine.New(engine.Options{KeyStore: &keystore.MemStore{}, Ledger: led, StartPaused: startPaused, SaveEarning: save})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestFirstRunEarns(t *testing.T) {
	if s := newEngineAsOpenAgent(t, t.TempDir()).Snapshot().State; s == engine.StatePaused {
		t.Fatalf("a first run (no state file) starts %v, want earning", s)
	}
}

func TestPausedStaysPausedAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	_, save := earningChoice(dir, slog.New(slog.DiscardHandler))
	if err := save(false); err != nil {
		t.Fatal(err)
	}
	if s := newEngineAsOpenAgent(t, dir).Snapshot().State; s != engine.StatePaused {
		t.Fatalf("after a pause and a restart the agent is %v, want paused", s)
	}
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"earning": false`) {
		t.Errorf("state.json = %s", data)
	}
	if err := save(true); err != nil {
		t.Fatal(err)
	}
	if s := newEngineAsOpenAgent(t, dir).Snapshot().State; s == engine.StatePaused {
		t.Fatalf("after Start and a restart the agent is %v, want earning", s)
	}
}

func TestUnreadableStateStartsPaused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{earn"), 0o600); err != nil {
		t.Fatal(err)
	}
	earning, err := appstate.LoadEarning(dir)
	if err == nil || earning {
		t.Fatalf("loadEarning of a broken file = %v, %v; want paused with an error (never earn on a doubt)", earning, err)
	}
	if !strings.Contains(err.Error(), "state.json") {
		t.Errorf("error %q does not name the file", err)
	}
	if s := newEngineAsOpenAgent(t, dir).Snapshot().State; s != engine.StatePaused {
		t.Fatalf("with a broken state file the agent is %v, want paused", s)
	}
}
