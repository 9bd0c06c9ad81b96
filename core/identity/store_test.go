package identity

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"usepod.ai/agent/core/internal/atomicfile"

	"github.com/zalando/go-keyring"
)

// fakeRing is an in-memory keychain that counts its calls. With err set,
// every call fails with it.
type fakeRing struct {
	mu      sync.Mutex // guards the fields below
	entries map[string]string
	calls   int
	err     error
}

func (f *fakeRing) Get(service, user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	v, ok := f.entries[service+"/"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeRing) Set(service, user, secret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if f.entries == nil {
		f.entries = map[string]string{}
	}
	f.entries[service+"/"+user] = secret
	return nil
}

func (f *fakeRing) Delete(service, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if _, ok := f.entries[service+"/"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.entries, service+"/"+user)
	return nil
}

func (f *fakeRing) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// blockingRing never answers until released, like a keychain waiting on an
// unlock prompt nobody sees.
type blockingRing struct{ release chan struct{} }

func (b blockingRing) Get(string, string) (string, error) {
	<-b.release
	return "", keyring.ErrNotFound
}
func (b blockingRing) Set(string, string, string) error { <-b.release; return nil }
func (b blockingRing) Delete(string, string) error      { <-b.release; return nil }

// useRing puts ring in place of the system keychain for one test.
func useRing(t *testing.T, ring keyringAPI) {
	t.Helper()
	old := systemKeyring
	systemKeyring = ring
	t.Cleanup(func() { systemKeyring = old })
}

// useBlockingRing puts a keychain that never answers in place; the test's
// cleanup releases it and waits for the abandoned call to finish.
func useBlockingRing(t *testing.T) {
	t.Helper()
	b := blockingRing{release: make(chan struct{})}
	useRing(t, b)
	t.Cleanup(func() {
		close(b.release)
		select {
		case keychainSlot <- struct{}{}:
			<-keychainSlot
		case <-time.After(5 * time.Second):
			t.Error("an abandoned keychain call did not finish after release")
		}
	})
}

// failingKeychain is a keychain that fails every test that touches it.
type failingKeychain struct{ t *testing.T }

func (f failingKeychain) Get(string, string) (string, error) {
	f.t.Error("keychain read")
	return "", errors.New("touched")
}
func (f failingKeychain) Set(string, string, string) error { f.t.Error("keychain write"); return nil }
func (f failingKeychain) Delete(string, string) error      { f.t.Error("keychain delete"); return nil }

// logBuffer collects log lines.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

func newLog() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

var errNoBus = errors.New("dbus: couldn't determine address of session bus")

func TestFileStore(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	s := &FileStore{Path: filepath.Join(dir, "identity.key")}
	if got := s.Where(); got != "file "+s.Path {
		t.Errorf("Where() = %q", got)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of nothing = %v, want ErrNotFound", err)
	}

	id, created, err := LoadOrCreate(ctx, s, testNow)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want a new identity", created, err)
	}
	again, created, err := LoadOrCreate(ctx, s, testNow.Add(time.Hour))
	if err != nil || created || !sameIdentity(again, id) {
		t.Fatalf("second LoadOrCreate = %v, %v, %v; want the same identity", again, created, err)
	}

	id.ProviderID = "prov_9"
	if err := s.Save(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx)
	if err != nil || !sameIdentity(got, id) {
		t.Fatalf("Load = %v, %v", got, err)
	}
	data, _ := os.ReadFile(s.Path)
	if parsed, err := ParseKeyFile(data); err != nil || !sameIdentity(parsed, id) {
		t.Error("the file is not in the key-file format")
	}
	assertOnlyFiles(t, dir, "identity.key")

	if runtime.GOOS != "windows" {
		st, _ := os.Stat(s.Path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
		}
		dst, _ := os.Stat(dir)
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("folder mode %v, want 0700", dst.Mode().Perm())
		}
	}

	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Errorf("second Delete = %v", err)
	}
}

func TestFileStoreSaveIsAtomic(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := &FileStore{Path: filepath.Join(dir, "identity.key")}
	old := newIdentity(t)
	if err := s.Save(ctx, old); err != nil {
		t.Fatal(err)
	}

	// A crash after the temporary file is written, before the rename: the
	// old key stays whole and no temporary file is left.
	crash := errors.New("power cut")
	var written []byte
	atomicfile.Rename = func(from, to string) error {
		if filepath.Dir(from) != dir || to != s.Path {
			t.Errorf("rename %s -> %s: not beside the key", from, to)
		}
		written, _ = os.ReadFile(from)
		if st, err := os.Stat(from); err == nil && runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("temporary file mode %v, want 0600 before it holds the key", st.Mode().Perm())
		}
		return crash
	}
	t.Cleanup(func() { atomicfile.Rename = os.Rename })
	next := newIdentity(t)
	if err := s.Save(ctx, next); !errors.Is(err, crash) {
		t.Fatalf("Save = %v, want the rename's error", err)
	}
	if parsed, err := ParseKeyFile(written); err != nil || !sameIdentity(parsed, next) {
		t.Error("the temporary file was not fully written before the rename")
	}
	if got, err := s.Load(ctx); err != nil || !sameIdentity(got, old) {
		t.Errorf("old key damaged: %v", err)
	}
	assertOnlyFiles(t, dir, "identity.key")

	// Replacing a looser file leaves a 0600 one and no temporary files.
	atomicfile.Rename = os.Rename
	if runtime.GOOS != "windows" {
		os.Chmod(s.Path, 0o644)
	}
	if err := s.Save(ctx, next); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(s.Path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after save, want 0600", st.Mode().Perm())
	}
	if got, err := s.Load(ctx); err != nil || !sameIdentity(got, next) {
		t.Errorf("new key not saved: %v", err)
	}
	assertOnlyFiles(t, dir, "identity.key")
}

func TestFileStoreRefusesReadableKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	ctx := t.Context()
	s := &FileStore{Path: filepath.Join(t.TempDir(), "identity.key")}
	id := newIdentity(t)
	if err := s.Save(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(s.Path, mode)
		_, err := s.Load(ctx)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want a refusal naming chmod 600", mode, err)
		}
		if _, _, err := LoadOrCreate(ctx, s, testNow); err == nil {
			t.Errorf("mode %04o: LoadOrCreate went on", mode)
		}
	}
	os.Chmod(s.Path, 0o600)
	if got, err := s.Load(ctx); err != nil || !sameIdentity(got, id) {
		t.Errorf("after chmod 600: %v", err)
	}
}

func TestLoadOrCreateNeverReplacesADamagedKey(t *testing.T) {
	ctx := t.Context()
	s := &FileStore{Path: filepath.Join(t.TempDir(), "identity.key")}
	const damaged = "-----BEGIN USEPOD AGENT KEY-----\nsecret: AAAA\n"
	if err := os.WriteFile(s.Path, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(ctx, s, testNow); err == nil || !strings.Contains(err.Error(), s.Path) {
		t.Fatalf("err = %v, want an error naming the file", err)
	}
	if data, _ := os.ReadFile(s.Path); string(data) != damaged {
		t.Error("the damaged key was replaced")
	}
}

func TestFileStoreHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := &FileStore{Path: filepath.Join(t.TempDir(), "identity.key")}
	if err := s.Save(ctx, newIdentity(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v", err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v", err)
	}
}

func TestKeychainStore(t *testing.T) {
	ring := &fakeRing{}
	useRing(t, ring)
	ctx := t.Context()
	marker := filepath.Join(t.TempDir(), "data", markerName)
	s := &KeychainStore{Service: "svc", User: "usr", Timeout: time.Second, marker: marker}
	if s.Where() == "" {
		t.Error("Where() is empty")
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of nothing = %v, want ErrNotFound", err)
	}
	id := newIdentity(t)
	id.ProviderID = "prov_k"
	if err := s.Save(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ring.entries["svc/usr"] != string(id.MarshalKeyFile()) {
		t.Error("the keychain entry is not the key-file text")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("no marker after Save: %v", err)
	}
	got, err := s.Load(ctx)
	if err != nil || !sameIdentity(got, id) {
		t.Fatalf("Load = %v, %v", got, err)
	}

	ring.entries["svc/usr"] = "not a key"
	if _, err := s.Load(ctx); err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrKeychainUnavailable) {
		t.Errorf("Load of a damaged entry = %v, want a plain error", err)
	}

	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Error("marker left after Delete")
	}
	if err := s.Delete(ctx); err != nil {
		t.Errorf("Delete of nothing = %v", err)
	}
}

func TestKeychainErrors(t *testing.T) {
	ctx := t.Context()
	s := &KeychainStore{Service: "svc", User: "usr", Timeout: time.Second}
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"no session bus", errNoBus, true},
		{"no secret service", errors.New("The name org.freedesktop.secrets was not provided by any .service files"), true},
		{"unsupported platform", keyring.ErrUnsupportedPlatform, true},
		{"too big", keyring.ErrSetDataTooBig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useRing(t, &fakeRing{err: tt.err})
			_, loadErr := s.Load(ctx)
			saveErr := s.Save(ctx, newIdentity(t))
			for _, err := range []error{loadErr, saveErr} {
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, does not wrap the cause", err)
				}
				if errors.Is(err, ErrKeychainUnavailable) != tt.unavailable {
					t.Errorf("err = %v, unavailable = %v, want %v", err, !tt.unavailable, tt.unavailable)
				}
				if errors.Is(err, ErrNotFound) {
					t.Errorf("err = %v reads as not found", err)
				}
			}
		})
	}
}

func TestKeychainTimeout(t *testing.T) {
	useBlockingRing(t)
	ctx := t.Context()
	const timeout = 50 * time.Millisecond
	s := &KeychainStore{Service: "svc", User: "usr", Timeout: timeout}

	calls := []struct {
		name string
		call func() error
	}{
		{"load", func() error { _, err := s.Load(ctx); return err }},
		// The first call is still stuck: later ones wait for it no longer
		// than their own timeout, and no goroutines pile up.
		{"save", func() error { return s.Save(ctx, newIdentity(t)) }},
		{"delete", func() error { return s.Delete(ctx) }},
		{"probe", func() error { return s.probe(ctx) }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		elapsed := time.Since(start)
		if !errors.Is(err, ErrKeychainUnavailable) || errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrKeychainUnavailable", c.name, err)
		}
		if elapsed < timeout || elapsed > timeout+time.Second {
			t.Errorf("%s: returned after %v, want about %v", c.name, elapsed, timeout)
		}
	}
}

func TestKeychainCallStopsWithContext(t *testing.T) {
	useBlockingRing(t)
	ctx, cancel := context.WithCancel(t.Context())
	s := &KeychainStore{Service: "svc", User: "usr", Timeout: time.Minute}
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Load(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrKeychainUnavailable) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v after cancel", time.Since(start))
	}
}

func TestOpenStoreFileNeverTouchesKeychain(t *testing.T) {
	useRing(t, failingKeychain{t})
	ctx := t.Context()
	dir := t.TempDir()
	log, logs := newLog()
	store, err := OpenStore(ctx, ModeFile, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	fs, ok := store.(*FileStore)
	if !ok || fs.Path != filepath.Join(dir, "identity.key") {
		t.Fatalf("store = %#v, want a FileStore at dataDir/identity.key", store)
	}
	if _, _, err := LoadOrCreate(ctx, store, testNow); err != nil {
		t.Fatal(err)
	}
	if lines := logs.lines(); len(lines) != 1 || lines[0] != "" {
		t.Errorf("logged %q", lines)
	}
}

func TestOpenStoreSystem(t *testing.T) {
	ctx := t.Context()
	t.Run("usable", func(t *testing.T) {
		ring := &fakeRing{}
		useRing(t, ring)
		dir := t.TempDir()
		store, err := OpenStore(ctx, ModeSystem, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		ks, ok := store.(*KeychainStore)
		if !ok || ks.Service != DefaultService || ks.User != DefaultUser {
			t.Fatalf("store = %#v", store)
		}
		if ring.count() != 1 {
			t.Errorf("probe made %d calls, want 1", ring.count())
		}
		if _, created, err := LoadOrCreate(ctx, store, testNow); err != nil || !created {
			t.Fatalf("LoadOrCreate = %v, %v", created, err)
		}
		if _, ok := ring.entries[DefaultService+"/"+DefaultUser]; !ok {
			t.Error("key not saved in the keychain")
		}
		if _, err := os.Stat(filepath.Join(dir, "identity.key")); !errors.Is(err, os.ErrNotExist) {
			t.Error("system mode wrote a key file")
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		useRing(t, &fakeRing{err: errNoBus})
		dir := t.TempDir()
		store, err := OpenStore(ctx, ModeSystem, dir, nil)
		if err == nil {
			t.Fatalf("store = %#v, want an error", store)
		}
		if !errors.Is(err, ErrKeychainUnavailable) || !errors.Is(err, errNoBus) {
			t.Errorf("err = %v, want ErrKeychainUnavailable wrapping the cause", err)
		}
		if !strings.Contains(err.Error(), "no system keychain is available") || !strings.Contains(err.Error(), "--keyring file") {
			t.Errorf("err = %q, want plain words and the way out", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Error("system mode fell back to a file")
		}
	})
}

func TestOpenStoreAuto(t *testing.T) {
	ctx := t.Context()

	t.Run("keychain usable", func(t *testing.T) {
		useRing(t, &fakeRing{})
		dir := t.TempDir()
		log, logs := newLog()
		store, err := OpenStore(ctx, "", dir, log)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := store.(*KeychainStore); !ok {
			t.Fatalf("store = %#v, want the keychain", store)
		}
		if _, _, err := LoadOrCreate(ctx, store, testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, markerName)); err != nil {
			t.Errorf("no note that the key is in the keychain: %v", err)
		}
		if strings.Contains(strings.Join(logs.lines(), "\n"), "WARN") {
			t.Errorf("warned: %q", logs.lines())
		}
	})

	t.Run("no keychain falls back to a file with one warning", func(t *testing.T) {
		useRing(t, &fakeRing{err: errNoBus})
		dir := t.TempDir()
		log, logs := newLog()
		store, err := OpenStore(ctx, ModeAuto, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		fs, ok := store.(*FileStore)
		if !ok || fs.Path != filepath.Join(dir, "identity.key") {
			t.Fatalf("store = %#v, want a FileStore", store)
		}
		lines := logs.lines()
		if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") ||
			!strings.Contains(lines[0], "no system keychain") {
			t.Errorf("logged %q, want one warning", lines)
		}
		if _, _, err := LoadOrCreate(ctx, store, testNow); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a key file in place is used without asking the keychain", func(t *testing.T) {
		useRing(t, failingKeychain{t})
		dir := t.TempDir()
		if err := (&FileStore{Path: filepath.Join(dir, "identity.key")}).Save(ctx, newIdentity(t)); err != nil {
			t.Fatal(err)
		}
		store, err := OpenStore(ctx, ModeAuto, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := store.(*FileStore); !ok {
			t.Fatalf("store = %#v, want the FileStore", store)
		}
	})

	t.Run("a key saved in the keychain is not replaced by a file when it is away", func(t *testing.T) {
		ring := &fakeRing{}
		useRing(t, ring)
		dir := t.TempDir()
		store, err := OpenStore(ctx, ModeAuto, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreate(ctx, store, testNow); err != nil {
			t.Fatal(err)
		}
		ring.err = errNoBus // the keychain is locked or gone today
		store, err = OpenStore(ctx, ModeAuto, dir, nil)
		if !errors.Is(err, ErrKeychainUnavailable) {
			t.Fatalf("OpenStore = %#v, %v; want ErrKeychainUnavailable", store, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "identity.key")); !errors.Is(err, os.ErrNotExist) {
			t.Error("a key file was made")
		}
	})

	t.Run("a keychain that never answers falls back in time", func(t *testing.T) {
		useBlockingRing(t)
		old := openTimeout
		openTimeout = 100 * time.Millisecond
		t.Cleanup(func() { openTimeout = old })
		start := time.Now()
		store, err := OpenStore(ctx, ModeAuto, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := store.(*FileStore); !ok {
			t.Fatalf("store = %#v, want a FileStore", store)
		}
		if d := time.Since(start); d > openTimeout+time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestOpenStoreUnknownMode(t *testing.T) {
	useRing(t, failingKeychain{t})
	if _, err := OpenStore(t.Context(), "kwallet", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "kwallet") {
		t.Errorf("err = %v", err)
	}
}

func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("folder holds %q, want %q", got, names)
	}
}
