package identity

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCLIKey writes a key file as the command-line agent does (0600).
func writeCLIKey(t *testing.T, path string, id *Identity) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, id.MarshalKeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An explicit key_path is used in place: the same key, and the provider id
// written back into that file in the command-line agent's format.
func TestKeyPathIsUsedInPlace(t *testing.T) {
	dataDir := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), ".usepod-agent", "identity.key")
	cli, _ := New(time.Now())
	writeCLIKey(t, keyPath, cli)

	store, err := OpenConfigured(t.Context(), ModeFile, keyPath, dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, created, err := LoadOrCreate(t.Context(), store, time.Now())
	if err != nil || created || id.PublicBase64() != cli.PublicBase64() {
		t.Fatalf("loaded %v created=%v err=%v; want the command-line agent's key", id, created, err)
	}
	id.ProviderID = "prov-cli-1"
	if err := store.Save(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyFile(data)
	if err != nil || back.ProviderID != "prov-cli-1" || back.PublicBase64() != cli.PublicBase64() {
		t.Fatalf("key file after save: %v, %v", back, err)
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dataDir, KeyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a second key file was made in the data folder")
	}
}

// A missing or unreadable key_path file is an error in plain words; no new
// key is made anywhere.
func TestKeyPathMissingIsAnError(t *testing.T) {
	dataDir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "identity.key")
	_, err := OpenConfigured(t.Context(), ModeAuto, missing, dataDir, nil)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "key_path") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v, want one naming the file and key_path", err)
	}
	// A store that was opened before the file went away does not make one either.
	store := &FileStore{Path: missing, Required: true}
	if _, _, err := LoadOrCreate(t.Context(), store, time.Now()); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadOrCreate on a missing required key: %v", err)
	}
	for _, p := range []string{missing, filepath.Join(dataDir, KeyFileName)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s was created", p)
		}
	}

	damaged := filepath.Join(t.TempDir(), "identity.key")
	os.WriteFile(damaged, []byte("not a key"), 0o600)
	if _, err := OpenConfigured(t.Context(), ModeAuto, damaged, dataDir, nil); err == nil || !strings.Contains(err.Error(), damaged) {
		t.Fatalf("damaged key file: err = %v", err)
	}
}

// A key that was imported (the same key in the agent's own store) is used
// from there; a different own key is refused rather than silently chosen.
func TestKeyPathAfterImport(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "identity.key")
	cli, _ := New(time.Now())
	writeCLIKey(t, keyPath, cli)

	imported := t.TempDir()
	own := &FileStore{Path: filepath.Join(imported, KeyFileName)}
	withID := *cli
	withID.ProviderID = "prov-after-import"
	own.Save(t.Context(), &withID)
	store, err := OpenConfigured(t.Context(), ModeFile, keyPath, imported, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := store.Load(t.Context()); err != nil || id.ProviderID != "prov-after-import" {
		t.Fatalf("loaded %v, %v; want the imported copy with its provider id", id, err)
	}

	other := t.TempDir()
	otherKey, _ := New(time.Now())
	(&FileStore{Path: filepath.Join(other, KeyFileName)}).Save(t.Context(), otherKey)
	_, err = OpenConfigured(t.Context(), ModeFile, keyPath, other, nil)
	if err == nil || !strings.Contains(err.Error(), "two identities") {
		t.Fatalf("err = %v, want the two-identities error", err)
	}
}

// A leading ~/ is the home folder, as in the command-line agent.
func TestKeyPathHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	cli, _ := New(time.Now())
	writeCLIKey(t, filepath.Join(home, ".usepod-agent", "identity.key"), cli)
	store, err := OpenConfigured(t.Context(), ModeFile, "~/.usepod-agent/identity.key", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := store.Load(t.Context()); err != nil || id.PublicBase64() != cli.PublicBase64() {
		t.Fatalf("loaded %v, %v", id, err)
	}
}
