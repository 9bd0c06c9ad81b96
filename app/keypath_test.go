package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/internal/testrig/localcoord"
)

// An agent run with the command-line agent's agent.toml keeps that agent's
// identity: the key at [identity] key_path is used in place, enrolment
// writes the provider id back into it, and the next run sends no code.
func TestRunUsesTheCommandLineAgentsKeyInPlace(t *testing.T) {
	dataDir := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), ".usepod-agent", "identity.key")
	cli, _ := identity.New(time.Now())
	os.MkdirAll(filepath.Dir(keyPath), 0o700)
	os.WriteFile(keyPath, cli.MarshalKeyFile(), 0o600)
	os.WriteFile(filepath.Join(dataDir, "agent.toml"), []byte("[identity]\nkey_path = \""+filepath.ToSlash(keyPath)+"\"\n"), 0o600)

	coord := localcoord.New(localcoord.Options{})
	p, stop := runHeadlessAgent(t, coord, dataDir, "--enrollment-code", "POD-ENROLL-TEST0001")
	if p.PubKey != cli.PublicBase64() {
		t.Errorf("the agent connected with key %s, not the command-line agent's %s", p.PubKey, cli.PublicBase64())
	}
	// Enrolment wrote the provider id into the key file; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	var saved *identity.Identity
	for time.Now().Before(deadline) {
		saved, _ = identity.ImportKeyFile(keyPath)
		if saved != nil && saved.ProviderID != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if saved == nil || saved.ProviderID != p.ID {
		t.Fatalf("key file after enrolment: %v; want provider id %s", saved, p.ID)
	}
	if _, err := os.Stat(filepath.Join(dataDir, identity.KeyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new key was made in the data folder")
	}

	p2, stop2 := runHeadlessAgent(t, coord, dataDir)
	defer stop2()
	if p2.EnrollmentCode != "" || p2.PubKey != cli.PublicBase64() || p2.ID != p.ID {
		t.Fatalf("second run: code %q key %s id %s", p2.EnrollmentCode, p2.PubKey, p2.ID)
	}
}

// A key_path whose file is missing stops the run with a clear error, and
// no key is made anywhere.
func TestRunRefusesAMissingKeyPath(t *testing.T) {
	dataDir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "identity.key")
	cfg := filepath.Join(dataDir, "agent.toml")
	os.WriteFile(cfg, []byte("[identity]\nkey_path = \""+filepath.ToSlash(missing)+"\"\n"), 0o600)
	// Bounded: an agent that wrongly starts would otherwise run on.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"--data-dir", dataDir, "--config", cfg, "run", "--headless", "--keyring", "file",
		"--coordinator", "ws://127.0.0.1:1/provider/connect", "--allow-insecure", "--enrollment-code", "POD-ENROLL-TEST0001"}, &out, &errb)
	stderr := errb.String()
	if code == 0 || !strings.Contains(stderr, missing) || !strings.Contains(stderr, "key_path") {
		t.Fatalf("exit %d, stderr %q; want a failure naming the file and key_path", code, stderr)
	}
	for _, p := range []string{missing, filepath.Join(dataDir, identity.KeyFileName)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s was created", p)
		}
	}
}

// Import moves the key into the agent's own store and drops key_path, so
// the imported settings do not keep using the command-line agent's file.
func TestImportDropsKeyPath(t *testing.T) {
	dataDir := t.TempDir()
	cliDir := t.TempDir()
	keyPath := filepath.Join(cliDir, "identity.key")
	cli, _ := identity.New(time.Now())
	cli.ProviderID = "prov-imported"
	os.WriteFile(keyPath, cli.MarshalKeyFile(), 0o600)
	cliToml := filepath.Join(cliDir, "agent.toml")
	os.WriteFile(cliToml, []byte("[identity]\nkey_path = \""+filepath.ToSlash(keyPath)+"\"\n"), 0o600)
	ours := filepath.Join(dataDir, "agent.toml")
	os.WriteFile(ours, []byte("[identity]\nkeyring = \"file\"\n"), 0o600)

	if code, _, stderr := run(t, "--data-dir", dataDir, "--config", ours, "import", cliToml); code != 0 {
		t.Fatalf("import: exit %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(ours); strings.Contains(string(b), "key_path") {
		t.Fatalf("imported settings still name key_path:\n%s", b)
	}
	code, out, _ := run(t, "--data-dir", dataDir, "--config", ours, "identity")
	if code != 0 || !strings.Contains(out, "prov-imported") || !strings.Contains(out, filepath.Join(dataDir, identity.KeyFileName)) {
		t.Fatalf("identity after import: exit %d %q", code, out)
	}
}
