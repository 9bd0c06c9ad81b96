//go:build linux && !nogui

package app

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"usepod.ai/agent/internal/testrig/desktoptest"
	"usepod.ai/agent/internal/testrig/localcoord"
)

// The real binary on a private X server whose desktop has no tray: the
// always-on process connects to the local coordinator, offers the replayed
// llama.cpp model and, with no tray to live in, opens its dashboard process
// itself. It serves a job, records it in the ledger and sends the "First job
// served" notification; the dashboard shows the job, and the test
// photographs it. A second launch asks the running agent to show its
// dashboard and exits at once, without a second engine or dashboard.
// SIGTERM then ends the agent cleanly, and its dashboard with it.
//
// The screenshot goes to $USEPOD_SCREENSHOT_DIR, else to screenshots/ at
// the module root (ignored by git).
func TestDesktopEndToEndUnderXvfb(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	bus := desktoptest.StartSessionBus(t)
	conn := desktoptest.ConnectBus(t, bus)
	notes := serveNotifications(t, conn)
	s := newDesktopSession(t, bus, backend)

	app := s.runApp(t, agent, coordURL)
	p, caps, _ := waitProvider(t, coord)
	// Dispatch only once the tray runs and the agent says it waits: a job
	// that ends before the notifier has seen its first snapshot counts as
	// history, not as news.
	waitUIRunning(t, conn, app)
	app.waitOutput(t, stateIs("waiting for jobs"), "state=waiting for jobs")
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny"}) {
		t.Fatalf("the app offers %v, want [tiny]", got)
	}
	if p.EnrollmentCode != "POD-ENROLL-E2E00001" {
		t.Errorf("enrollment code sent = %q", p.EnrollmentCode)
	}

	ctx, cancel := context.WithTimeout(t.Context(), desktopWait)
	defer cancel()
	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "e2e-1", ModelID: "tiny", Request: map[string]any{
		"messages": []map[string]string{{"role": "user", "content": "Say hello in five words."}}, "max_tokens": 8,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Done == nil {
		t.Fatalf("job ended with %s, want job_done", res.Terminal.Raw)
	}
	if res.Done.Tokens.Input == 0 || res.Done.Tokens.Output == 0 || res.Chunks == 0 {
		t.Errorf("job_done %+v after %d chunks: want tokens both ways", res.Done.Tokens, res.Chunks)
	}
	app.waitOutput(t, stateIs("earning"), "state=earning")

	// The ledger, read by the command line while the app runs.
	var e earningsJSON
	deadline := time.Now().Add(desktopWait)
	for e = s.earnings(t, agent); e.Jobs != 1 && time.Now().Before(deadline); e = s.earnings(t, agent) {
		time.Sleep(100 * time.Millisecond)
	}
	if e.Jobs != 1 || e.TodayJobs != 1 || e.TodayMicroUSDC <= 0 {
		t.Fatalf("earnings after one job: jobs %d, today %d jobs %d micro-USDC", e.Jobs, e.TodayJobs, e.TodayMicroUSDC)
	}
	if !notes.waitFor("First job served", desktopWait) {
		t.Errorf("no \"First job served\" notification; got %q", notes.titles())
	}

	// The dashboard is a window of its own process, onto the agent's
	// local API. Give it a moment to draw the job it was sent.
	waitWindow(t, s.display, "Use Pod Agent")
	time.Sleep(2500 * time.Millisecond) // the hardware card reads every 2 s
	shot := screenshot(t, s.display, "desktop-dashboard.png")
	t.Logf("screenshot: %s", shot)

	// A second launch: it finds the running agent and exits 0 at once.
	began := time.Now()
	second := s.command(agent, coordURL)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second launch: %v, output %q; want exit 0 saying the agent already runs", err, out)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the second launch took %v, want a few seconds at most", took)
	}
	if n := strings.Count(app.out.String(), `msg="dashboard opened"`); n != 1 {
		t.Errorf("the agent opened %d dashboards, want 1 (the second launch brings the open one forward)", n)
	}

	if code := app.stopAndWait(t, 30*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	log := app.out.String()
	checkCleanLog(t, log)
	got := states(log)
	want := []string{"connecting", "waiting for jobs", "earning", "paused"} // paused: quitting drains
	if !inOrder(got, want) {
		t.Errorf("states logged %q, want %q in that order", got, want)
	}
	if !strings.Contains(log, `msg=stopped`) {
		t.Error("the app did not log that it stopped")
	}
	if !strings.Contains(log, `msg="dashboard closed"`) {
		t.Error("the dashboard did not close with the agent")
	}
}

// waitWindow waits until a window of this title is mapped on the display.
func waitWindow(t testing.TB, display, title string) {
	t.Helper()
	xwininfo := lookTool(t, "xwininfo", "x11-utils")
	deadline := time.Now().Add(desktopWait)
	var out []byte
	for time.Now().Before(deadline) {
		cmd := exec.Command(xwininfo, "-name", title)
		cmd.Env = []string{"DISPLAY=" + display}
		out, _ = cmd.CombinedOutput()
		if strings.Contains(string(out), "Map State: IsViewable") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no window %q shown on %s: %s", title, display, out)
}

// inOrder reports whether want appears in got in this order, not
// necessarily next to each other.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// screenshot photographs the whole X display into the screenshot folder
// and checks that it shows something: a PNG of some size with many colours
// (an empty or black screen has one).
func screenshot(t testing.TB, display, name string) string {
	t.Helper()
	imp := lookTool(t, "import", "imagemagick")
	dir := os.Getenv("USEPOD_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(moduleRoot(t), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	cmd := exec.Command(imp, "-window", "root", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DISPLAY=" + display, "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import -window root: %v\n%s", err, out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 10<<10 {
		t.Errorf("screenshot is only %d bytes", st.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if n := colours(img); n < 64 {
		t.Errorf("screenshot has %d colours: nothing drawn", n)
	}
	return path
}

// colours counts the distinct colours of an image.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// notifications is a minimal org.freedesktop.Notifications server: it
// keeps the titles it was sent.
type notifications struct {
	mu   sync.Mutex // guards sent
	sent []string
	wake chan struct{} // closed and replaced on each notification
}

func serveNotifications(t *testing.T, conn *dbus.Conn) *notifications {
	t.Helper()
	n := &notifications{wake: make(chan struct{})}
	if err := conn.Export(n, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.Notifications: %v (reply %v)", err, reply)
	}
	return n
}

// Notify is org.freedesktop.Notifications.Notify.
func (n *notifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, summary)
	close(n.wake)
	n.wake = make(chan struct{})
	return uint32(len(n.sent)), nil
}

func (n *notifications) titles() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// waitFor waits until a notification with this title has been sent.
func (n *notifications) waitFor(title string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		n.mu.Lock()
		found, wake := slices.Contains(n.sent, title), n.wake
		n.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-wake:
		case <-deadline:
			return false
		}
	}
}
