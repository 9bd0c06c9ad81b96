// Command preview shows the dashboard and the settings window fed by a
// scripted engine, for looking at the UI while developing and for the
// screenshots in docs/screenshots. It is not part of the agent.
//
//	go run ./ui/internal/preview -state earning            # or paused, offline, rejected, nobackends, waiting
//	go run ./ui/internal/preview -state earning -settings  # also open the settings window
//	FYNE_THEME=dark go run ./ui/internal/preview
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/ui"
)

func main() {
	state := flag.String("state", "earning", "earning, waiting, paused, offline, rejected, nobackends, connecting, empty")
	settings := flag.Bool("settings", false, "open the settings window too")
	settingsErrors := flag.Bool("settings-errors", false, "open settings, detect servers and save an invalid URL")
	settingsDetect := flag.Bool("settings-detect", false, "open settings and press Detect")
	importDialog := flag.Bool("import", false, "open settings and the import dialog")
	settingsBottom := flag.Bool("settings-bottom", false, "open settings scrolled to the bottom")
	exercise := flag.Bool("exercise", false, "tap through the dashboard and settings to let Fyne's thread checker see every path")
	noGPU := flag.Bool("nogpu", false, "hardware sampler reports an error")
	flag.Parse()

	a := app.NewWithID("ai.usepod.agent.preview")
	eng := newScripted(*state)
	var hw ui.HardwareSource = &fakeHW{}
	if *noGPU {
		hw = &fakeHW{err: errors.New("NVML not found (no NVIDIA driver)")}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	u := ui.New(a, eng, hw, ui.Actions{
		Quit:             func() { log.Print("dashboard closed"); os.Exit(0) },
		SetLaunchAtLogin: func(on bool) error { log.Printf("launch at login: %v", on); return nil },
		Import: func(t, k string, replace bool) (string, error) {
			log.Printf("import %q %q (replace %v)", t, k, replace)
			return "prov-preview", nil
		},
	}, logger)
	u.ShowDashboard()
	if *settingsBottom {
		go func() {
			time.Sleep(time.Second)
			fyne.Do(func() {
				walk(windowTitled("Use Pod Agent — Settings").Content(), func(o fyne.CanvasObject) {
					if sc, ok := o.(*container.Scroll); ok {
						sc.ScrollToBottom()
					}
				})
			})
		}()
	}
	if *settingsDetect || *importDialog {
		label := "Detect servers"
		if *importDialog {
			label = "Import from the command-line agent…"
		}
		go func() {
			time.Sleep(time.Second)
			fyne.Do(func() { tap(windowTitled("Use Pod Agent — Settings"), label) })
		}()
	}
	if *settings || *settingsErrors || *settingsBottom || *settingsDetect || *importDialog {
		go func() {
			time.Sleep(500 * time.Millisecond)
			fyne.Do(u.ShowSettings)
		}()
	}
	if *settingsErrors {
		go func() {
			time.Sleep(time.Second)
			fyne.Do(func() {
				w := windowTitled("Use Pod Agent — Settings")
				tap(w, "Detect servers")
				setEntry(w, "wss://", "https://api.usepod.ai")
				setEntry(w, "0.30", "0.3x")
				tap(w, "Save")
			})
		}()
	}
	if *exercise {
		go runExercise(u)
	}
	if err := u.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// runExercise drives the UI like a user, from a goroutine through fyne.Do,
// as the engine's updates arrive in the real app.
func runExercise(u *ui.UI) {
	step := func(f func()) {
		time.Sleep(700 * time.Millisecond)
		fyne.DoAndWait(f)
	}
	dash := func() fyne.Window { return windowTitled("Use Pod Agent") }
	step(func() {
		walk(dash().Content(), func(o fyne.CanvasObject) {
			if c, ok := o.(*widget.Check); ok && c.Checked {
				c.SetChecked(false) // the user's tap: calls SetModelEnabled off the UI goroutine
			}
		})
	})
	step(func() { tap(dash(), "Pause earning") })
	step(func() { tap(dash(), "Start earning") })
	step(u.ShowSettings)
	step(func() {
		w := windowTitled("Use Pod Agent — Settings")
		tap(w, "Detect servers")
		setEntry(w, "wss://", "ftp://nowhere")
		tap(w, "Save")
	})
	time.Sleep(2500 * time.Millisecond)
	log.Print("exercise done")
}

// windowTitled finds an open window.
func windowTitled(title string) fyne.Window {
	for _, w := range fyne.CurrentApp().Driver().AllWindows() {
		if w.Title() == title {
			return w
		}
	}
	log.Fatalf("no window %q", title)
	return nil
}

// walk visits the objects under o that containers expose (enough to reach
// the buttons and entries of a form).
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			walk(child, f)
		}
	case *container.Scroll:
		walk(c.Content, f)
	case *widget.Card:
		walk(c.Content, f)
	}
}

// tap taps the first button with a label.
func tap(w fyne.Window, label string) {
	walk(w.Content(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == label && b.OnTapped != nil {
			b.OnTapped()
			label = "\x00" // only once
		}
	})
}

// setEntry replaces the text of the first entry whose text starts with prefix.
func setEntry(w fyne.Window, prefix, text string) {
	walk(w.Content(), func(o fyne.CanvasObject) {
		if e, ok := o.(*widget.Entry); ok && strings.HasPrefix(e.Text, prefix) {
			e.SetText(text)
			prefix = "\x00"
		}
	})
}

// scripted is an Engine that serves one prepared snapshot per state.
type scripted struct {
	mu       sync.Mutex // guards the fields below
	snap     engine.Snapshot
	cfg      config.Config
	watchers []chan engine.Snapshot
}

func newScripted(state string) *scripted {
	now := time.Now()
	s := engine.Snapshot{
		Coordinator: config.DefaultCoordinatorURL,
		ProviderID:  "prov_7f3a9c",
		KeyWhere:    "the system keychain",
		Models: []engine.ModelStatus{
			{ID: "gpt-oss:20b", Backend: "ollama", BackendURL: "http://localhost:11434", ContextWindow: 131072, Healthy: true, Enabled: true, Offered: true, InputPer1M: 100000, OutputPer1M: 300000},
			{ID: "llama3.1:8b-instruct-q4_K_M", Backend: "ollama", BackendURL: "http://localhost:11434", ContextWindow: 8192, Healthy: true, Enabled: true, Offered: true, InputPer1M: 50000, OutputPer1M: 150000},
			{ID: "qwen2.5-coder-32b-instruct", Backend: "llamacpp", BackendURL: "http://localhost:8080", ContextWindow: 32768, Healthy: true, Enabled: false, InputPer1M: 200000, OutputPer1M: 600000},
		},
		Backends: []engine.BackendStatus{
			{Kind: "ollama", URL: "http://localhost:11434", Healthy: true, Models: 2},
			{Kind: "llamacpp", URL: "http://localhost:8080", Healthy: true, Models: 1},
		},
		JobsInFlight: 2,
		JobsServed:   37,
		Earnings: ledger.Totals{
			TodayMicro: 48_213, Last7dMicro: 412_907, TotalMicro: 2_734_118, TodayJobs: 214, Jobs: 9_322,
			Models: []ledger.ModelTotal{
				{Model: "gpt-oss:20b", Jobs: 6_100, TotalMicro: 2_101_000, TodayJobs: 151, TodayMicro: 39_870},
				{Model: "llama3.1:8b-instruct-q4_K_M", Jobs: 3_222, TotalMicro: 633_118, TodayJobs: 63, TodayMicro: 8_343},
			},
		},
	}
	for i := range 24 {
		start := now.Truncate(time.Hour).Add(time.Duration(i-23) * time.Hour)
		v := int64(1500 + 1400*math.Sin(float64(i)/3.5) + float64(i*90))
		if i%7 == 3 {
			v = 0
		}
		s.Hourly = append(s.Hourly, ledger.HourBucket{Start: start, Micro: max(v, 0), Jobs: max(v, 0) / 200})
	}
	switch state {
	case "earning":
		s.State = engine.StateEarning
	case "waiting":
		s.State, s.JobsInFlight = engine.StateWaiting, 0
	case "paused":
		s.State, s.JobsInFlight = engine.StatePaused, 0
		for i := range s.Models {
			s.Models[i].Offered = false
		}
	case "connecting":
		s.State = engine.StateConnecting
	case "offline":
		s.State, s.JobsInFlight = engine.StateOffline, 0
		s.RetryAt = now.Add(8 * time.Second)
		s.LastError = "dial tcp: lookup api.usepod.ai: no such host"
		for i := range s.Models {
			s.Models[i].Offered = false
		}
	case "rejected":
		s.State, s.JobsInFlight = engine.StateEnrollmentRejected, 0
		s.Reason = "this code has expired; create a new one in your account"
		s.ProviderID = ""
		for i := range s.Models {
			s.Models[i].Offered = false
		}
	case "nobackends":
		s.State, s.JobsInFlight = engine.StateNoBackends, 0
		s.Models = nil
		s.Backends = []engine.BackendStatus{{Kind: "ollama", URL: "http://localhost:11434", Error: "connection refused"}}
	case "empty":
		s = engine.Snapshot{State: engine.StateWaiting, Coordinator: config.DefaultCoordinatorURL}
	}

	cfg := config.Default()
	cfg.Coordinator.EnrollmentCode = "POD-ENROLL-7F3A9C21"
	cfg.Backends = []config.Backend{
		{Kind: config.KindOllama, URL: "http://localhost:11434"},
		{Kind: config.KindLlamaCpp, URL: "http://localhost:8080", APIKey: "sk-local"},
	}
	cfg.Pricing.Models = map[string]config.ModelPricing{"qwen2.5-coder-32b-instruct": {InputPer1M: 200000, OutputPer1M: 600000}}
	return &scripted{snap: s, cfg: cfg}
}

func (e *scripted) Watch(ctx context.Context) <-chan engine.Snapshot {
	ch := make(chan engine.Snapshot, 1)
	e.mu.Lock()
	e.watchers = append(e.watchers, ch)
	ch <- e.snap
	e.mu.Unlock()
	go func() {
		// Offline: move RetryAt forward each time it passes, like the engine.
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.mu.Lock()
				if e.snap.State == engine.StateOffline && time.Now().After(e.snap.RetryAt) {
					e.snap.RetryAt = time.Now().Add(8 * time.Second)
					e.publishLocked()
				}
				e.mu.Unlock()
			}
		}
	}()
	return ch
}

// publishLocked sends the snapshot to every watcher, newest wins.
func (e *scripted) publishLocked() {
	for _, ch := range e.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- e.snap
	}
}

func (e *scripted) set(f func(*engine.Snapshot)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.snap)
	e.publishLocked()
}

func (e *scripted) Start() {
	e.set(func(s *engine.Snapshot) {
		s.State = engine.StateWaiting
		for i := range s.Models {
			s.Models[i].Offered = s.Models[i].Enabled
		}
	})
}

func (e *scripted) Pause() {
	e.set(func(s *engine.Snapshot) {
		s.State = engine.StatePaused
		for i := range s.Models {
			s.Models[i].Offered = false
		}
	})
}

func (e *scripted) SetModelEnabled(model string, on bool) error {
	time.Sleep(300 * time.Millisecond) // a save and a capabilities frame
	e.set(func(s *engine.Snapshot) {
		for i := range s.Models {
			if s.Models[i].ID == model {
				s.Models[i].Enabled = on
				s.Models[i].Offered = on && s.State != engine.StatePaused
			}
		}
	})
	return nil
}

func (e *scripted) UpdateConfig(edit func(*config.Config)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cfg.Clone()
	edit(&c)
	if !strings.HasPrefix(c.Coordinator.URL, "wss://") {
		return &config.ValidationError{Errors: []config.FieldError{{Key: "coordinator.url", Message: "must be a wss:// URL"}}}
	}
	e.cfg = c
	return nil
}

func (e *scripted) Config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Clone()
}

func (e *scripted) Detect(ctx context.Context) []backend.Health {
	select {
	case <-ctx.Done():
	case <-time.After(1500 * time.Millisecond):
	}
	return []backend.Health{
		{Server: backend.Server{Kind: config.KindOllama, URL: "http://localhost:11434"}, Healthy: true, Models: []backend.Model{{ID: "gpt-oss:20b"}, {ID: "llama3.1:8b"}}},
		{Server: backend.Server{Kind: config.KindLMStudio, URL: "http://localhost:1234"}, Healthy: true, Models: []backend.Model{{ID: "qwen3-14b"}}},
		{Server: backend.Server{Kind: config.KindLlamaCpp, URL: "http://localhost:8080"}, Err: errors.New("connection refused")},
		{Server: backend.Server{Kind: config.KindVLLM, URL: "http://localhost:8000"}, Err: errors.New("connection refused")},
	}
}

// fakeHW is a sampler with two GPUs and five minutes of wavy history.
type fakeHW struct{ err error }

func (h *fakeHW) sample(t time.Time, k int) ui.HardwareView {
	if h.err != nil {
		return ui.HardwareView{At: t, Err: h.err, CPUPercent: 18, MemUsed: 11 << 30, MemTotal: 32 << 30}
	}
	f := float64(k)
	return ui.HardwareView{
		At: t,
		GPUs: []ui.GPUView{
			{Index: 0, Name: "NVIDIA GeForce RTX 4090", UtilPercent: 62 + 30*math.Sin(f/6), HasUtil: true,
				MemUsed: 19_600 << 20, MemTotal: 24_564 << 20, HasMem: true, TempC: 68, HasTemp: true,
				PowerW: 287, PowerLimitW: 450, HasPower: true},
			{Index: 1, Name: "NVIDIA GeForce RTX 3090", UtilPercent: 35 + 25*math.Cos(f/4), HasUtil: true,
				MemUsed: 8_100 << 20, MemTotal: 24_576 << 20, HasMem: true, TempC: 54, HasTemp: true,
				PowerW: 141, HasPower: true},
		},
		CPUPercent: 22 + 8*math.Sin(f/3),
		MemUsed:    14_300 << 20,
		MemTotal:   64 << 30,
	}
}

func (h *fakeHW) Latest() ui.HardwareView { return h.sample(time.Now(), 150) }

func (h *fakeHW) History() []ui.HardwareView {
	out := make([]ui.HardwareView, 0, 150)
	now := time.Now()
	for k := range 150 {
		out = append(out, h.sample(now.Add(time.Duration(k-150)*2*time.Second), k))
	}
	return out
}

func (h *fakeHW) SetVisible(v bool) { fmt.Fprintln(os.Stderr, "hardware visible:", v) }
