//go:build linux && !nogui

package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/localapi"
)

// The dashboard's Import against a running agent that has made its own key:
// it is refused until the user confirms, with words saying that nothing is
// lost; once confirmed, the running agent takes up the imported identity at
// once (the coordinator sees the imported key, without the enrollment code)
// and its settings, which a later save keeps instead of overwriting.
func TestImportIntoTheRunningAgent(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	s := newHeadlessSession(t, backend)
	app := s.runHeadless(t, agent, coordURL)
	first, _, _ := waitProvider(t, coord)
	app.waitOutput(t, stateIs("waiting for jobs"), "state=waiting for jobs")

	// The command-line agent's files: an identity the coordinator knows,
	// and settings with a limit of its own.
	cli := t.TempDir()
	theirs, err := identity.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	theirs.ProviderID = coord.Enroll(theirs.PublicBase64())
	keyPath := filepath.Join(cli, "identity.key")
	if err := os.WriteFile(keyPath, theirs.MarshalKeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	tomlPath := filepath.Join(cli, "agent.toml")
	toml := fmt.Sprintf("[coordinator]\nurl = %q\nallow_insecure = true\n\n[limits]\nmax_concurrent = 3\n\n[[backends]]\nkind = \"llamacpp\"\nurl = %q\n", coordURL, backend)
	if err := os.WriteFile(tomlPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	client := localapi.NewClient(localapi.UserAddress(s.data))
	req := localapi.ImportRequest{AgentToml: tomlPath, IdentityKey: keyPath}
	_, err = client.Import(t.Context(), req)
	var conflict *localapi.IdentityConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("import over the agent's own identity = %v, want a conflict to confirm", err)
	}
	if conflict.CurrentPublicKey != first.PubKey || !strings.Contains(conflict.Error(), "lose nothing") {
		t.Errorf("conflict = %+v; want the current key %s and that nothing is lost", conflict, first.PubKey)
	}

	req.Force = true
	res, err := client.Import(t.Context(), req)
	if err != nil {
		t.Fatalf("confirmed import: %v", err)
	}
	if res.ProviderID != theirs.ProviderID {
		t.Errorf("imported provider id = %q, want %q", res.ProviderID, theirs.ProviderID)
	}
	second, caps, _ := waitProvider(t, coord)
	if second.PubKey != theirs.PublicBase64() || second.EnrollmentCode != "" {
		t.Errorf("after the import the agent connected with key %s and code %q; want the imported key and no code", second.PubKey, second.EnrollmentCode)
	}
	if len(caps.Models) != 1 || caps.Models[0].MaxConcurrent != 3 {
		t.Errorf("capabilities after the import = %+v, want the imported limit of 3", caps.Models)
	}
	code, out, errOut := s.cli(t, agent, "identity", "--keyring", "file")
	if code != 0 || !strings.Contains(out, theirs.ProviderID) {
		t.Errorf("identity after the import: exit %d, %q %q; want provider id %s", code, out, errOut, theirs.ProviderID)
	}

	// A later save (a model switch) keeps the imported settings.
	if err := client.SetModelEnabled("tiny", false); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), "max_concurrent = 3") || !strings.Contains(string(saved), "tiny") {
		t.Errorf("the settings file after a model switch lost the import:\n%s", saved)
	}
}
