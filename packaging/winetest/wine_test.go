//go:build wine

package winetest

// Helpers: one wine prefix per test run, the stand-in DLL built into it,
// and the .exe run under wine with Linux-side test servers (the local
// coordinator in this process, the replayed llama.cpp server as a Linux
// binary) reached over 127.0.0.1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/writers"
)

// wait bounds each wait on the .exe, wine or the X server. Wine starts a
// Go .exe in about a second warm; the first start in a prefix is slower.
const wait = 60 * time.Second

// pipeDelay is how long a wait goes on reading output after the process
// exited. Wine's background processes (services.exe, explorer.exe, the
// wineserver) inherit the output pipes and keep them open for the whole
// run, so a wait for the pipes to close would never end.
const pipeDelay = 2 * time.Second

// env is what every test shares, set up once by TestMain.
var env struct {
	exe    string // the packaged .exe (Linux path)
	root   string // the module root
	state  string // this run's folder under .cache/winetest
	prefix string // WINEPREFIX
	replay string // the replayed llama.cpp server, a Linux binary
}

func TestMain(m *testing.M) {
	code, err := setUp()
	if err != nil {
		fmt.Fprintf(os.Stderr, "winetest: %v\n", err)
		code = 1
	} else {
		code = m.Run()
	}
	tearDown()
	os.Exit(code)
}

// step prints what a test proved, so `make test-windows` says it.
func step(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("PROVED: "+format, args...)
}

func setUp() (int, error) {
	began := time.Now()
	env.exe = os.Getenv("USEPOD_WINE_EXE")
	if env.exe == "" {
		return 1, fmt.Errorf("USEPOD_WINE_EXE is not set: run `make test-windows`, which builds the .exe and sets it")
	}
	if _, err := os.Stat(env.exe); err != nil {
		return 1, fmt.Errorf("the .exe: %w", err)
	}
	for _, tool := range []string{"wine", "wineserver", "wineboot", "x86_64-w64-mingw32-gcc", "Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 1, fmt.Errorf("%s is not installed (make deps installs it)", tool)
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return 1, fmt.Errorf("go env GOMOD: %w", err)
	}
	env.root = filepath.Dir(strings.TrimSpace(string(out)))
	base := filepath.Join(env.root, ".cache", "winetest")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return 1, err
	}
	if env.state, err = os.MkdirTemp(base, "run-"); err != nil {
		return 1, err
	}
	env.prefix = filepath.Join(env.state, "prefix")
	if err := os.Mkdir(env.prefix, 0o700); err != nil {
		return 1, err
	}

	// The prefix: wineboot makes it (about 20 s), then the stand-in goes
	// into its system32, where a real Windows keeps the real DLL.
	// A wineserver kept for the whole run (not one per .exe start, which
	// costs seconds each). It forks into the background: no output pipes,
	// or Run would wait for them to close.
	wineserver := exec.Command("wineserver", "--persistent")
	wineserver.Env = wineEnv("")
	if err := wineserver.Run(); err != nil {
		return 1, fmt.Errorf("wineserver --persistent: %v", err)
	}
	boot := exec.Command("wineboot", "--init")
	boot.Env = wineEnv("")
	boot.WaitDelay = pipeDelay
	if out, err := boot.CombinedOutput(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return 1, fmt.Errorf("wineboot --init: %v\n%s", err, out)
	}
	dll := filepath.Join(env.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	src := filepath.Join(env.root, "packaging", "winetest", "standin")
	cc := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-s", "-o", dll,
		filepath.Join(src, "bcryptprimitives.c"), filepath.Join(src, "bcryptprimitives.def"), "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("build the bcryptprimitives.dll stand-in: %v\n%s", err, out)
	}
	replay := filepath.Join(env.state, "replayserver")
	build := exec.Command("go", "build", "-o", replay, "./internal/testrig/replay/replayserver")
	build.Dir = env.root
	if out, err := build.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("go build replayserver: %v\n%s", err, out)
	}
	env.replay = replay
	fmt.Printf("winetest: wine prefix %s ready in %v (stand-in bcryptprimitives.dll built from %s)\n",
		env.prefix, time.Since(began).Round(time.Millisecond), src)
	return 0, nil
}

// tearDown stops every wine process of the prefix and removes the run's
// state, unless USEPOD_WINE_KEEP is set (to look at it afterwards).
func tearDown() {
	if env.prefix == "" {
		return
	}
	k := exec.Command("wineserver", "--kill")
	k.Env = wineEnv("")
	k.Run()
	if os.Getenv("USEPOD_WINE_KEEP") == "" && env.state != "" {
		os.RemoveAll(env.state)
	}
}

// wineEnv is the environment wine runs in: built from nothing, so that the
// developer's own prefix, display and settings stay out of it.
func wineEnv(display string) []string {
	e := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"WINEPREFIX=" + env.prefix,
		"WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=", // no Mono or Gecko installer dialogs
		"LANG=en_US.UTF-8",
	}
	if display != "" {
		e = append(e, "DISPLAY="+display)
	}
	return e
}

// winPath is a Linux path as the .exe sees it, on wine's Z: drive.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// runExe runs the .exe to completion and returns its exit code and output.
func runExe(t testing.TB, display string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", append([]string{env.exe}, args...)...)
	cmd.Env = wineEnv(display)
	cmd.Dir = env.state
	cmd.WaitDelay = pipeDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wine %s: did not finish within %v\n%s%s", strings.Join(args, " "), wait, stdout.Bytes(), stderr.Bytes())
	}
	if cmd.ProcessState == nil {
		t.Fatalf("wine %s: %v", strings.Join(args, " "), err)
	}
	// Not err: with WaitDelay it is ErrWaitDelay when the .exe exited 0
	// but a wine background process still held the output pipes.
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// mustRun is runExe that fails the test unless the .exe exits 0.
func mustRun(t testing.TB, display string, args ...string) string {
	t.Helper()
	code, out, errOut := runExe(t, display, args...)
	if code != 0 {
		t.Fatalf("wine usepod-agent %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// proc is a background process whose output is kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *writers.Locked
	done chan struct{}
	err  error
}

// start runs a command in the background; the cleanup kills it if the
// test has not stopped it, and logs its output when the test failed.
func start(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &writers.Locked{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = pipeDelay
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			// SIGTERM first: Xvfb removes its lock file and socket only
			// then, and a killed one leaves its display taken for good.
			cmd.Process.Signal(syscall.SIGTERM)
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

// startExe runs the .exe under wine in the background.
func startExe(t testing.TB, display string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("wine", append([]string{env.exe}, args...)...)
	cmd.Env = wineEnv(display)
	cmd.Dir = env.state
	return start(t, "usepod-agent.exe", cmd)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (p *proc) waitExit(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %v", p.name, limit)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the output matches re.
func (p *proc) waitOutput(t testing.TB, re *regexp.Regexp, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !re.MatchString(p.out.String()) {
		if p.exited() {
			t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s in the output of %s", what, p.name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stateIs matches the engine's log line for a change to state.
func stateIs(state string) *regexp.Regexp {
	v := state
	if strings.Contains(v, " ") {
		v = `"` + v + `"`
	}
	return regexp.MustCompile(`msg="state changed" component=engine state=` + regexp.QuoteMeta(v) + `( |$)`)
}

// startReplayBackend runs the replayed llama.cpp server (recordings of a
// real llama-server, one model "tiny") and returns its URL.
func startReplayBackend(t testing.TB) string {
	t.Helper()
	cmd := exec.Command(env.replay, "-pace", "5ms")
	stdout := &writers.Locked{}
	cmd.Stdout = stdout
	p := start(t, "replayserver", cmd)
	deadline := time.Now().Add(wait)
	for !p.exited() && time.Now().Before(deadline) {
		if line, _, ok := strings.Cut(stdout.String(), "\n"); ok {
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

// writeConfig writes an agent.toml with one llama.cpp backend.
func writeConfig(t testing.TB, backendURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.toml")
	toml := fmt.Sprintf("[[backends]]\nkind = \"llamacpp\"\nurl = %q\n", backendURL)
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitProvider waits for the next authenticated connection.
func waitProvider(t testing.TB, coord *localcoord.Server) *localcoord.Provider {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	p, err := coord.Next(ctx)
	if err != nil {
		t.Fatalf("no connection from the .exe within %v: %v", wait, err)
	}
	return p
}

// serveOneJob dispatches a chat job to the provider and checks it ends
// with job_done and tokens both ways.
func serveOneJob(t testing.TB, p *localcoord.Provider, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if _, _, err := p.WaitCapabilities(ctx, 0); err != nil {
		t.Fatalf("no capabilities from the .exe: %v", err)
	}
	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: id, ModelID: "tiny", Request: map[string]any{
		"messages": []map[string]string{{"role": "user", "content": "Say hello in five words."}}, "max_tokens": 8,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Done == nil {
		t.Fatalf("job %s ended with %s, want job_done", id, res.Terminal.Raw)
	}
	if res.Done.Tokens.Input == 0 || res.Done.Tokens.Output == 0 || res.Chunks == 0 {
		t.Fatalf("job_done %+v after %d chunks: want tokens both ways", res.Done.Tokens, res.Chunks)
	}
}
