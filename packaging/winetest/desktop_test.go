//go:build wine

package winetest

import (
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/desktoptest"
)

// The desktop start, as a double-click starts it: under Xvfb the .exe's
// tray icon appears in wine's system tray (a "Wine System Tray" window when
// no desktop hosts a tray), a right click opens its menu, "Open dashboard"
// opens the dashboard process's window, and "Quit" drains and exits 0,
// taking the dashboard with it. The screenshots go to
// $USEPOD_SCREENSHOT_DIR, else screenshots/ at the module root.
func TestDesktopTrayDashboardQuit(t *testing.T) {
	display := desktoptest.StartXvfb(t, 140, 170)
	backend := startReplayBackend(t)
	coord, coordURL := startCoordinator(t)
	cfg := winPath(writeConfig(t, backend))
	data := winPath(t.TempDir())

	agent := startExe(t, display, "--config", cfg, "--data-dir", data, "run",
		"--coordinator", coordURL, "--allow-insecure", "--enrollment-code", "POD-ENROLL-WINE0002", "--keyring", "file")
	p := waitProvider(t, coord)
	serveOneJob(t, p, "wine-desktop-1")
	agent.waitOutput(t, stateIs("earning"), "state=earning")

	// The tray: wine's explorer.exe hosts it in a window of its own. Put it
	// where no other window covers it (there is no window manager).
	tray := waitWindow(t, display, "^Wine System Tray$")
	xdotool(t, display, "windowmove", tray.id, "600", "760")
	xdotool(t, display, "windowraise", tray.id)
	tray = waitWindow(t, display, "^Wine System Tray$")
	time.Sleep(500 * time.Millisecond)
	full := screenshot(t, display, "wine-tray.png")
	// The icon is the tray's first 16x16 slot; wine's tray is plain white
	// without one.
	if n := colours(crop(full, tray.x, tray.y, 20, 20)); n < 4 {
		t.Fatalf("the tray shows no icon: its first slot has %d colours", n)
	}
	step(t, "the tray icon shows in wine's system tray (%s)", filepath.Join(shotDir(t), "wine-tray.png"))

	menu := openTrayMenu(t, display, tray)
	step(t, "a right click opened the tray menu, %dx%d, rows at y=%v (%s)", menu.w, menu.h, menu.rows, filepath.Join(shotDir(t), "wine-tray-menu.png"))

	clickRow(t, display, menu, rowOpenDashboard)
	dash := waitWindow(t, display, "^Use Pod Agent$")
	agent.waitOutput(t, regexp.MustCompile(`msg="dashboard opened"`), "the dashboard to open")
	time.Sleep(3 * time.Second) // let it draw the job and the hardware card (read every 2 s)
	shot := screenshot(t, display, "wine-dashboard.png")
	if n := colours(crop(shot, dash.x, dash.y, dash.w, dash.h)); n < 50 {
		t.Fatalf("the dashboard window looks empty: %d colours", n)
	}
	step(t, "Open dashboard opened the dashboard window, %dx%d (%s)", dash.w, dash.h, filepath.Join(shotDir(t), "wine-dashboard.png"))

	// Start at login, as a user turns it on: tray menu, Settings…, the
	// check box, Save; then off again. The Run value must be exactly this
	// .exe's path, and go again without touching anything else in the key.
	runKeyBefore := regQuery(t, runKey)
	if strings.Contains(runKeyBefore, runValue) {
		t.Fatalf("the fresh prefix already has a %s value:\n%s", runValue, runKeyBefore)
	}
	toggleStartAtLogin(t, display, tray, "wine-settings-login-on.png")
	got := regQuery(t, runKey, "/v", runValue)
	exePath := `Z:` + strings.ReplaceAll(env.exe, "/", `\`)
	if want := runValue + "    REG_SZ    " + exePath; !strings.Contains(got, want) {
		t.Fatalf("after turning Start at login on, reg query says:\n%s\nwant the line %q", got, want)
	}
	step(t, "Start at login on (Settings, check box, Save) wrote HKCU\\...\\Run\\%s = %s, read back with wine reg query", runValue, exePath)
	toggleStartAtLogin(t, display, tray, "wine-settings-login-off.png")
	if after := regQuery(t, runKey); after != runKeyBefore {
		t.Fatalf("after turning Start at login off, the Run key is\n%s\nwant it as it was before:\n%s", after, runKeyBefore)
	}
	step(t, "Start at login off removed the value and left the Run key exactly as before")

	// Quit: the menu's last row.
	menu = openTrayMenu(t, display, tray)
	clickRow(t, display, menu, rowQuit)
	if code := agent.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("Quit: exit code %d, want 0", code)
	}
	log := agent.out.String()
	for _, want := range []string{`msg=stopped`, `msg="dashboard closed"`} {
		if !strings.Contains(log, want) {
			t.Errorf("after Quit the log lacks %s", want)
		}
	}
	if !stateIs("paused").MatchString(log) {
		t.Error("Quit did not drain (no state=paused before stopping)")
	}
	for _, bad := range []string{"panic:", "Error in Fyne call thread"} {
		if strings.Contains(log, bad) {
			t.Errorf("the .exe's output has %q", bad)
		}
	}
	step(t, "Quit in the tray menu drained, closed the dashboard and exited 0")
	// What went wrong without failing the test, for a person to read.
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Logf("the .exe logged: %s", line)
		}
	}
}

// window is a mapped X window and where it is.
type window struct {
	id         string
	x, y, w, h int
	rows       []int // a menu's rows of text, their middles (screen y), top down
}

// The tray menu's rows of text, top down (ui/tray builds it; Show log is
// hidden unless the log cannot be opened).
const (
	rowStatus = iota
	rowToggle
	rowOpenDashboard
	rowSettings
	rowQuit
	menuRows
)

// clickRow clicks the middle of a menu row.
func clickRow(t testing.TB, display string, menu window, row int) {
	t.Helper()
	xdotool(t, display, "mousemove", strconv.Itoa(menu.x+menu.w/4), strconv.Itoa(menu.rows[row]), "click", "1")
}

// textRows finds a menu's rows of text in a screenshot: runs of pixel rows
// with dark (or greyed) pixels, leaving out the separators, which are lines
// across most of the menu. Read from the picture rather than assumed, so
// wine's menu font (fonts-wine or not) does not move the clicks.
func textRows(img image.Image, menu window) []int {
	var rows []int
	start := -1
	for y := menu.y + 2; y <= menu.y+menu.h-2; y++ {
		inked := 0
		for x := menu.x + 4; x < menu.x+menu.w-4; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if (r+g+b)/3>>8 < 200 {
				inked++
			}
		}
		text := inked > 0 && inked < (menu.w-8)*6/10
		switch {
		case text && start < 0:
			start = y
		case !text && start >= 0:
			rows = append(rows, (start+y-1)/2)
			start = -1
		}
	}
	return rows
}

// geometryLine is a line of `xwininfo -root -children`:
//
//	0xc00003 (has no name): ("usepod-agent.exe" "usepod-agent.exe")  485x109+610+641  +610+641
var geometryLine = regexp.MustCompile(`^\s*(0x[0-9a-f]+) ("[^"]*"|\(has no name\)): (\(.*\))\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)`)

// windows lists the root window's children by "id name (class)".
func windows(t testing.TB, display string) map[string]window {
	t.Helper()
	cmd := exec.Command("xwininfo", "-root", "-children")
	cmd.Env = []string{"DISPLAY=" + display}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xwininfo: %v", err)
	}
	all := map[string]window{}
	for _, line := range strings.Split(string(out), "\n") {
		m := geometryLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		w := window{id: m[1]}
		w.w, _ = strconv.Atoi(m[4])
		w.h, _ = strconv.Atoi(m[5])
		w.x, _ = strconv.Atoi(m[6])
		w.y, _ = strconv.Atoi(m[7])
		all[m[1]+" "+m[2]+" "+m[3]] = w
	}
	return all
}

// waitWindow waits until a window whose name matches re is mapped.
func waitWindow(t testing.TB, display, re string) window {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", re)
		cmd.Env = []string{"DISPLAY=" + display}
		out, _ := cmd.Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			return geometry(t, display, ids[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window named %s appeared within %v", re, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func geometry(t testing.TB, display, id string) window {
	t.Helper()
	cmd := exec.Command("xdotool", "getwindowgeometry", "--shell", id)
	cmd.Env = []string{"DISPLAY=" + display}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xdotool getwindowgeometry %s: %v", id, err)
	}
	w := window{id: id}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "X":
			w.x = n
		case "Y":
			w.y = n
		case "WIDTH":
			w.w = n
		case "HEIGHT":
			w.h = n
		}
	}
	return w
}

// openTrayMenu right-clicks the tray icon and returns the popup menu: the
// new unnamed top-level window of the .exe.
func openTrayMenu(t testing.TB, display string, tray window) window {
	t.Helper()
	before := windows(t, display)
	xdotool(t, display, "mousemove", strconv.Itoa(tray.x+10), strconv.Itoa(tray.y+10), "click", "3")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for key, w := range windows(t, display) {
			if _, old := before[key]; old || !strings.Contains(key, "(has no name) (") || !strings.Contains(key, ".exe") {
				continue
			}
			if w.w > 50 && w.h > 50 && w.y+w.h >= tray.y-5 {
				time.Sleep(300 * time.Millisecond) // drawn, not only mapped
				w.rows = textRows(screenshot(t, display, "wine-tray-menu.png"), w)
				if len(w.rows) != menuRows {
					t.Fatalf("the tray menu shows %d rows of text at %v, want %d (see %s)", len(w.rows), w.rows, menuRows,
						filepath.Join(shotDir(t), "wine-tray-menu.png"))
				}
				return w
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no menu opened on a right click on the tray icon; windows: %v", windows(t, display))
	return window{}
}

func xdotool(t testing.TB, display string, args ...string) {
	t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = []string{"DISPLAY=" + display}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// shotDir is where screenshots go.
func shotDir(t testing.TB) string {
	dir := os.Getenv("USEPOD_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(env.root, "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the whole screen as name and returns it.
func screenshot(t testing.TB, display, name string) image.Image {
	t.Helper()
	path := filepath.Join(shotDir(t), name)
	cmd := exec.Command("import", "-window", "root", path)
	cmd.Env = []string{"DISPLAY=" + display, "PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

func crop(img image.Image, x, y, w, h int) image.Image {
	r := image.Rect(x, y, x+w, y+h).Intersect(img.Bounds())
	return img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

// colours counts the distinct colours in img: a window drawn with text
// and widgets has many, an empty one one or two.
func colours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	return len(seen)
}

const (
	runKey   = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "UsePodAgent"
)

// regQuery runs `wine reg query` and returns its output, "" when the key
// or value does not exist.
func regQuery(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("wine", append([]string{"reg", "query"}, args...)...)
	cmd.Env = wineEnv("")
	cmd.WaitDelay = pipeDelay
	out, _ := cmd.Output() // exit 1: not found
	return strings.ReplaceAll(string(out), "\r\n", "\n")
}

// toggleStartAtLogin opens Settings… from the tray menu (the row after Open
// dashboard), scrolls to the bottom, clicks "Start Use Pod Agent when I
// log in" and Save, and waits for the window to close. The places are the
// window's bottom rows at its fixed size (760x720), which Fyne lays out
// the same every time.
func toggleStartAtLogin(t testing.TB, display string, tray window, shot string) {
	t.Helper()
	menu := openTrayMenu(t, display, tray)
	clickRow(t, display, menu, rowSettings)
	// The title has an em dash, which xdotool's regex (C locale) cannot match.
	w := waitWindow(t, display, " Settings$")
	time.Sleep(time.Second)
	xdotool(t, display, "mousemove", strconv.Itoa(w.x+w.w/2), strconv.Itoa(w.y+w.h/2), "click", "--repeat", "80", "--delay", "40", "5") // to the bottom, however long the form grows (wine drops wheel events that come too fast)
	time.Sleep(time.Second)
	xdotool(t, display, "mousemove", strconv.Itoa(w.x+177), strconv.Itoa(w.y+w.h-55), "click", "1")
	time.Sleep(500 * time.Millisecond)
	screenshot(t, display, shot)
	xdotool(t, display, "mousemove", strconv.Itoa(w.x+w.w-33), strconv.Itoa(w.y+w.h-27), "click", "1")
	deadline := time.Now().Add(wait)
	for {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", " Settings$")
		cmd.Env = []string{"DISPLAY=" + display}
		if out, _ := cmd.Output(); len(strings.TrimSpace(string(out))) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Settings window did not close after Save (see %s)", filepath.Join(shotDir(t), shot))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A double-click with a broken settings file: no console to read, so the
// .exe shows a window saying what is wrong and what to do, and exits 2 (a
// bad settings file, as on the command line) when it is closed.
func TestFailedStartShowsAWindow(t *testing.T) {
	display := desktoptest.StartXvfb(t, 140, 170)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte("[limits]\nmax_concurrent = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startExe(t, display, "--config", winPath(cfg), "--data-dir", winPath(dir))
	w := waitWindow(t, display, "^Use Pod Agent")
	time.Sleep(time.Second)
	shot := screenshot(t, display, "wine-failed-start.png")
	if n := colours(crop(shot, w.x, w.y, w.w, w.h)); n < 20 {
		t.Fatalf("the failure window looks empty: %d colours", n)
	}
	if agent.exited() {
		t.Fatalf("the .exe exited (%v) while its failure window should be open", agent.err)
	}
	// Close: the window's bottom-right button (as Fyne lays it out).
	xdotool(t, display, "mousemove", strconv.Itoa(w.x+w.w-35), strconv.Itoa(w.y+w.h-26), "click", "1")
	if code := agent.waitExit(t, 20*time.Second); code != 2 {
		t.Errorf("exit code %d after closing the failure window, want 2", code)
	}
	if !strings.Contains(agent.out.String(), "limits.max_concurrent") {
		t.Errorf("the .exe did not name the bad setting:\n%s", agent.out)
	}
	step(t, "a broken settings file showed a failure window (%s) and exit 2 when closed", filepath.Join(shotDir(t), "wine-failed-start.png"))
}
