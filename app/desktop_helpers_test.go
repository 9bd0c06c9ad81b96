//go:build linux && !nogui

package app

// Helpers for the tests that run the real desktop binary on a private X
// server (Xvfb) and a private D-Bus session bus, as a Linux desktop runs it.
// Every process they start is stopped by t.Cleanup, and killed with the test
// binary should it die first (Pdeathsig).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"usepod.ai/agent/internal/testrig/desktoptest"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/writers"
)

// desktopWait bounds each wait on the app, the X server or the bus.
const desktopWait = 20 * time.Second

// built holds the binaries, built once per test binary.
var built struct {
	once          sync.Once
	dir           string
	agent, replay string
	err           error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// moduleRoot is the folder of go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := findModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func findModuleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the module")
	}
	return filepath.Dir(mod), nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// binaries builds the desktop app (`go build -o ... .` at the module root,
// as a user builds it) and the replayed llama.cpp server, once. Not with
// -race: fyne.io/systray v1.12.2 and Fyne 2.7.1 race internally (menuVersion
// in refresh vs GetLayout; the systrayIcon global written by the tray's
// ready callback), which would fail these tests for code that is not ours.
//
// The app goes to a folder under the temporary folder on purpose: a binary
// built with `go build` reads FyneApp.toml beside itself, or from its
// working folder when it lies in the temporary folder, and FyneApp.toml
// declares the fyneDo migration, which turns Fyne's thread checker off.
// The tests run the app in a folder without one, so a widget touched off
// the UI goroutine is reported ("Error in Fyne call thread").
func binaries(t testing.TB) (agent, replay string) {
	t.Helper()
	built.once.Do(func() {
		// No t.Fatal in here: it would leave the Once done and the paths empty.
		root, err := findModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "usepod-desktop-test-"); built.err != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{
			{filepath.Join(built.dir, "usepod-agent"), "."},
			{filepath.Join(built.dir, "replayserver"), "./internal/testrig/replay/replayserver"},
		} {
			cmd := exec.Command(goTool(), "build", "-o", b.out, b.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
		built.agent = filepath.Join(built.dir, "usepod-agent")
		built.replay = filepath.Join(built.dir, "replayserver")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.agent, built.replay
}

// lookTool finds a program or fails the test with how to install it.
func lookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed; this test needs it (Debian/Ubuntu: apt-get install %s, or make deps)", name, pkg)
	}
	return p
}

// proc is a child process whose output is kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *writers.Locked // stdout and stderr together
	done chan struct{}   // closed when it has exited
	err  error           // Wait's result, once done is closed
}

// start runs a command in the background. The cleanup stops it: stop
// (SIGTERM unless given, then SIGKILL after 5 s) and wait; on failure it
// logs the output.
func start(t testing.TB, name string, cmd *exec.Cmd, stop os.Signal) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &writers.Locked{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if stop == nil {
			stop = syscall.SIGTERM
		}
		if !p.exited() {
			cmd.Process.Signal(stop)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out)
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stopAndWait sends SIGTERM and returns the exit code, or fails the test
// if the process has not exited within limit.
func (p *proc) stopAndWait(t testing.TB, limit time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %v of SIGTERM", p.name, limit)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the output matches re and returns the match.
func (p *proc) waitOutput(t testing.TB, re *regexp.Regexp, what string) string {
	t.Helper()
	deadline := time.Now().Add(desktopWait)
	for {
		if m := re.FindString(p.out.String()); m != "" {
			return m
		}
		if p.exited() {
			t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s in the output of %s", what, p.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUIRunning waits until the app's Fyne loop runs, which a desktop sees
// as the app's tray item on the session bus: fyne.io/systray exports it
// under org.kde.StatusNotifierItem-<pid>-1 when the loop starts, after the
// UI's goroutines have started.
func waitUIRunning(t testing.TB, conn *dbus.Conn, app *proc) {
	t.Helper()
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", app.cmd.Process.Pid)
	deadline := time.Now().Add(desktopWait)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			t.Fatalf("NameHasOwner: %v", err)
		}
		if has {
			return
		}
		if app.exited() {
			t.Fatalf("the app exited (%v) before its UI ran", app.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app's tray item %s did not appear on the bus", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startReplayBackend runs the replayed llama.cpp server (the recordings of
// a real llama-server, one model "tiny") and returns the URL it prints.
func startReplayBackend(t testing.TB, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-pace", "5ms")
	stdout := &writers.Locked{}
	cmd.Stdout = stdout
	p := start(t, "replayserver", cmd, os.Interrupt)
	deadline := time.Now().Add(desktopWait)
	for !p.exited() && time.Now().Before(deadline) {
		if line, _, ok := strings.Cut(stdout.String(), "\n"); ok {
			if !strings.HasPrefix(line, "http://") {
				t.Fatalf("replayserver printed %q, want its URL", line)
			}
			return line
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replayserver printed no URL:\n%s", p.out)
	return ""
}

// startCoordinator serves the local coordinator and returns its ws:// URL.
func startCoordinator(t testing.TB) (*localcoord.Server, string) {
	t.Helper()
	coord := localcoord.New(localcoord.Options{})
	hs := httptest.NewServer(coord.Handler())
	t.Cleanup(hs.Close)
	return coord, "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
}

// desktopSession is what one run of the desktop app needs: a private X
// display, a private session bus, a home and a data folder.
type desktopSession struct {
	display, bus string
	home, data   string
	config       string // agent.toml
	pathPrefix   string // a folder put first on PATH (stand-in tools); "" for none
}

// newDesktopSession starts the X server and, unless bus is given, a session
// bus, and writes an agent.toml with one llama.cpp backend.
func newDesktopSession(t testing.TB, bus, backendURL string) *desktopSession {
	t.Helper()
	s := &desktopSession{display: desktoptest.StartXvfb(t, 90, 120), bus: bus, home: t.TempDir(), data: t.TempDir()}
	if s.bus == "" {
		s.bus = desktoptest.StartSessionBus(t)
	}
	s.config = writeBackendConfig(t, backendURL)
	return s
}

// writeBackendConfig writes an agent.toml with one llama.cpp backend.
func writeBackendConfig(t testing.TB, backendURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.toml")
	toml := fmt.Sprintf("[[backends]]\nkind = \"llamacpp\"\nurl = %q\n", backendURL)
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env is a desktop session's environment, built from nothing so that the
// developer's own DISPLAY, bus, keychain and settings stay out of it.
func (s *desktopSession) env() []string {
	run := filepath.Join(s.home, "run")
	os.MkdirAll(run, 0o700)
	path := os.Getenv("PATH")
	if s.pathPrefix != "" {
		path = s.pathPrefix + string(os.PathListSeparator) + path
	}
	return []string{
		"PATH=" + path,
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + filepath.Join(s.home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(s.home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(s.home, ".cache"),
		"XDG_RUNTIME_DIR=" + run,
		"DISPLAY=" + s.display,
		"DBUS_SESSION_BUS_ADDRESS=" + s.bus,
		"LANG=en_US.UTF-8",
	}
}

// runApp starts `usepod-agent run` against coordURL; the cleanup kills it
// if the test has not stopped it.
func (s *desktopSession) runApp(t testing.TB, agent, coordURL string) *proc {
	t.Helper()
	return start(t, "usepod-agent", s.command(agent, coordURL), syscall.SIGKILL)
}

// command is the desktop app's command line, as runApp starts it.
func (s *desktopSession) command(agent, coordURL string) *exec.Cmd {
	cmd := exec.Command(agent, "--config", s.config, "--data-dir", s.data, "run",
		"--coordinator", coordURL, "--allow-insecure", "--enrollment-code", "POD-ENROLL-E2E00001", "--keyring", "file")
	cmd.Env = s.env()
	cmd.Dir = s.data // no FyneApp.toml here: Fyne's thread checker stays on (see binaries)
	return cmd
}

// earnings runs `usepod-agent earnings --json` on the session's data.
func (s *desktopSession) earnings(t testing.TB, agent string) earningsJSON {
	t.Helper()
	cmd := exec.Command(agent, "--data-dir", s.data, "earnings", "--json")
	cmd.Env = s.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("earnings --json: %v\n%s", err, stderr.Bytes())
	}
	var e earningsJSON
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("earnings --json is not JSON: %v\n%s", err, out)
	}
	return e
}

// stateChange matches the engine's log line for a state change.
var stateChange = regexp.MustCompile(`msg="state changed" component=engine state=("[^"]*"|\S+)`)

// stateIs matches the log line for a change to state.
func stateIs(state string) *regexp.Regexp {
	v := state
	if strings.Contains(v, " ") {
		v = `"` + v + `"`
	}
	return regexp.MustCompile(`msg="state changed" component=engine state=` + regexp.QuoteMeta(v) + `( |$)`)
}

// states lists the states the engine logged, in order.
func states(log string) []string {
	var out []string
	for _, m := range stateChange.FindAllStringSubmatch(log, -1) {
		out = append(out, strings.Trim(m[1], `"`))
	}
	return out
}

// checkCleanLog fails on the lines that must never appear in the app's
// output.
func checkCleanLog(t testing.TB, log string) {
	t.Helper()
	for _, bad := range []string{"Error in Fyne call thread", "panic:"} {
		if strings.Contains(log, bad) {
			t.Errorf("the app's output has %q", bad)
		}
	}
}

// waitProvider waits for the app's next authenticated connection and its
// first capabilities.
func waitProvider(t testing.TB, coord *localcoord.Server) (*localcoord.Provider, localcoord.Capabilities, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), desktopWait)
	defer cancel()
	p, err := coord.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	caps, i := waitCapabilities(t, p, 0)
	return p, caps, i
}

// waitCapabilities waits for the next capabilities frame at or after from.
func waitCapabilities(t testing.TB, p *localcoord.Provider, from int) (localcoord.Capabilities, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), desktopWait)
	defer cancel()
	c, i, err := p.WaitCapabilities(ctx, from)
	if err != nil {
		t.Fatalf("wait for capabilities: %v", err)
	}
	return c, i
}
