package identity

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keyringTestEnv, set to 1, says this process runs on a D-Bus session bus
// with an unlocked gnome-keyring on it. The Makefile may set it inside
// dbus-run-session; otherwise TestKeychainSecretService sets up such a
// session itself and runs again inside it.
const keyringTestEnv = "USEPOD_KEYRING_TEST"

// noBusTestEnv, set to 1, marks the child process of TestKeychainNoSessionBus.
const noBusTestEnv = "USEPOD_KEYRING_NO_BUS_TEST"

// TestKeychainSecretService stores, reads back and deletes an identity in a
// real Secret Service (gnome-keyring-daemon) through go-keyring. It needs
// no desktop: a private session bus and keyring are started for it, with
// HOME and the XDG folders in a temporary folder, so a developer's own
// keyring is never touched.
func TestKeychainSecretService(t *testing.T) {
	if os.Getenv(keyringTestEnv) != "1" {
		runInSecretService(t, "TestKeychainSecretService")
		return
	}
	ctx := t.Context()
	dataDir := t.TempDir()

	// The keychain may still be starting (the daemon is started on demand
	// by D-Bus): give it a few tries.
	var store KeyStore
	var err error
	for try := 0; try < 10; try++ {
		if store, err = OpenStore(ctx, ModeSystem, dataDir, nil); err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("OpenStore(system): %v", err)
	}
	if got, want := store.Where(), "the system keychain (Secret Service)"; got != want {
		t.Errorf("Where() = %q, want %q", got, want)
	}
	if auto, err := OpenStore(ctx, ModeAuto, dataDir, nil); err != nil {
		t.Errorf("OpenStore(auto): %v", err)
	} else if _, ok := auto.(*KeychainStore); !ok {
		t.Errorf("OpenStore(auto) = %T, want the keychain", auto)
	}

	// A test entry, apart from the agent's own.
	s := &KeychainStore{Service: DefaultService + ".test", User: "identity-" + strings.ReplaceAll(t.Name(), "/", "-")}
	t.Cleanup(func() { s.Delete(context.Background()) })
	if err := s.Delete(ctx); err != nil {
		t.Fatalf("clear the test entry: %v", err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of nothing = %v, want ErrNotFound", err)
	}

	id, created, err := LoadOrCreate(ctx, s, time.Now())
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v", created, err)
	}
	got, err := s.Load(ctx)
	if err != nil || !sameIdentity(got, id) {
		t.Fatalf("Load = %v, %v; want %v", got, err, id)
	}

	id.ProviderID = "prov_secret_service"
	if err := s.Save(ctx, id); err != nil { // replaces the entry
		t.Fatal(err)
	}
	got, created, err = LoadOrCreate(ctx, s, time.Now())
	if err != nil || created || !sameIdentity(got, id) {
		t.Fatalf("LoadOrCreate after Save = %v, %v, %v; want %v", got, created, err, id)
	}

	// Read the entry with another Secret Service client, to be sure it is
	// in the keyring and not only in this process.
	if _, err := exec.LookPath("secret-tool"); err == nil {
		out, err := exec.CommandContext(ctx, "secret-tool", "lookup", "service", s.Service, "username", s.User).Output()
		if err != nil {
			t.Errorf("secret-tool lookup: %v", err)
		} else if parsed, err := ParseKeyFile(out); err != nil || !sameIdentity(parsed, id) {
			t.Errorf("secret-tool finds a different entry (%v)", err) // never print the entry: it is the key
		}
	} else {
		t.Log("secret-tool (libsecret-tools) is not installed; not cross-checking the entry")
	}

	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
}

// runInSecretService runs one test of this binary again under a private
// D-Bus session with an unlocked gnome-keyring-daemon. It fails, not skips,
// when the tools are missing.
func runInSecretService(t *testing.T, test string) {
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: this test needs a real Secret Service. "+
				"Install gnome-keyring and dbus (Debian/Ubuntu: apt-get install gnome-keyring dbus-daemon; "+
				"Fedora: dnf install gnome-keyring dbus-daemon)", tool)
		}
	}
	home := t.TempDir()
	runtimeDir := filepath.Join(home, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The password unlocks (and creates) the login keyring of this
	// throw-away HOME only.
	const script = `printf '%s' throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
exec "$@"`
	args := []string{"--", "sh", "-c", script, "sh", os.Args[0],
		"-test.run=^" + test + "$", "-test.v", "-test.count=1", "-test.timeout=2m"}
	out := runChild(t, exec.Command("dbus-run-session", args...), map[string]string{
		keyringTestEnv:             "1",
		"HOME":                     home,
		"XDG_RUNTIME_DIR":          runtimeDir,
		"XDG_DATA_HOME":            filepath.Join(home, "data"),
		"XDG_CONFIG_HOME":          filepath.Join(home, "config"),
		"XDG_CACHE_HOME":           filepath.Join(home, "cache"),
		"DBUS_SESSION_BUS_ADDRESS": "", // dbus-run-session sets its own
		"DISPLAY":                  "",
		"WAYLAND_DISPLAY":          "",
	})
	if !strings.Contains(out, "--- PASS: "+test) {
		t.Fatalf("the test did not run inside the Secret Service session:\n%s", out)
	}
}

// runChild runs cmd with env changes (an empty value unsets) and returns
// its output, failing the test if it fails.
func runChild(t *testing.T, cmd *exec.Cmd, env map[string]string) string {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.WaitDelay = 10 * time.Second
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			cmd.Process.Kill()
		}
	}()
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args[:2], " "), err, out)
	}
	t.Logf("child output:\n%s", out)
	return out
}

// TestKeychainNoSessionBus checks that a session bus address that leads
// nowhere makes system mode fail fast with ErrKeychainUnavailable and auto
// mode fall back to a file. It runs in a child process, because godbus
// keeps the first session bus connection of a process for good.
func TestKeychainNoSessionBus(t *testing.T) {
	if os.Getenv(noBusTestEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeychainNoSessionBus$", "-test.v", "-test.count=1", "-test.timeout=1m")
		out := runChild(t, cmd, map[string]string{
			noBusTestEnv:               "1",
			keyringTestEnv:             "",
			"DBUS_SESSION_BUS_ADDRESS": "unix:path=" + filepath.Join(t.TempDir(), "no-bus-here"),
		})
		if !strings.Contains(out, "--- PASS: TestKeychainNoSessionBus") {
			t.Fatalf("the child did not run the test:\n%s", out)
		}
		return
	}

	ctx := t.Context()
	const slack = time.Second
	check := func(t *testing.T) {
		dataDir := t.TempDir()
		start := time.Now()
		_, err := OpenStore(ctx, ModeSystem, dataDir, nil)
		if elapsed := time.Since(start); elapsed > DefaultKeychainTimeout+slack {
			t.Errorf("OpenStore(system) took %v", elapsed)
		}
		if !errors.Is(err, ErrKeychainUnavailable) {
			t.Fatalf("OpenStore(system) = %v, want ErrKeychainUnavailable", err)
		}
		t.Logf("system: %v", err)

		log, logs := newLog()
		store, err := OpenStore(ctx, ModeAuto, dataDir, log)
		if err != nil {
			t.Fatalf("OpenStore(auto): %v", err)
		}
		if got, want := store.Where(), "file "+filepath.Join(dataDir, "identity.key"); got != want {
			t.Errorf("auto: Where() = %q, want %q", got, want)
		}
		if n := strings.Count(strings.Join(logs.lines(), "\n"), "level=WARN"); n != 1 {
			t.Errorf("auto logged %d warnings, want 1: %q", n, logs.lines())
		}
		if _, created, err := LoadOrCreate(ctx, store, time.Now()); err != nil || !created {
			t.Errorf("LoadOrCreate on the fallback file = %v, %v", created, err)
		}
	}
	t.Run("address leads nowhere", check)

	// With no address at all, godbus would start a bus of its own with
	// dbus-launch; the store must refuse instead (unless the user's bus
	// socket exists in /run/user, which godbus finds by itself).
	if _, err := os.Stat("/run/user/" + itoa(os.Getuid()) + "/bus"); err == nil {
		t.Log("skipping the no-address case: this machine has a user bus in /run/user")
		return
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	t.Run("no address", check)
}

func itoa(n int) string { return strconv.Itoa(n) }
