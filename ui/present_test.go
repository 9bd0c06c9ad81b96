package ui

// These tests need no display and no Fyne: present.go is plain Go.

import (
	"slices"
	"testing"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/ui/present"
)

func models(online int, extra ...engine.ModelStatus) []engine.ModelStatus {
	var out []engine.ModelStatus
	for range online {
		out = append(out, engine.ModelStatus{Enabled: true, Healthy: true, Offered: true})
	}
	return append(out, extra...)
}

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 20, 0, 0, time.UTC)
	off := engine.ModelStatus{Healthy: true}
	tests := []struct {
		name string
		s    engine.Snapshot
		want string
	}{
		{"earning", engine.Snapshot{State: engine.StateEarning, Models: models(2, off)}, "Earning — 2 models online"},
		{"earning one", engine.Snapshot{State: engine.StateEarning, Models: models(1)}, "Earning — 1 model online"},
		{"waiting", engine.Snapshot{State: engine.StateWaiting, Models: models(2)}, "Waiting for jobs — 2 models online"},
		{"paused", engine.Snapshot{State: engine.StatePaused, Models: models(2)}, "Paused"},
		{"connecting", engine.Snapshot{State: engine.StateConnecting}, "Connecting…"},
		{"offline 8 s", engine.Snapshot{State: engine.StateOffline, RetryAt: now.Add(8 * time.Second)}, "Offline — retrying in 8 s"},
		{"offline rounds up", engine.Snapshot{State: engine.StateOffline, RetryAt: now.Add(7100 * time.Millisecond)}, "Offline — retrying in 8 s"},
		{"offline minutes", engine.Snapshot{State: engine.StateOffline, RetryAt: now.Add(95 * time.Second)}, "Offline — retrying in 1 min 35 s"},
		{"offline whole minutes", engine.Snapshot{State: engine.StateOffline, RetryAt: now.Add(2 * time.Minute)}, "Offline — retrying in 2 min"},
		{"offline due", engine.Snapshot{State: engine.StateOffline, RetryAt: now.Add(-time.Second)}, "Offline — retrying now"},
		{"offline no retry", engine.Snapshot{State: engine.StateOffline}, "Offline"},
		{"rejected", engine.Snapshot{State: engine.StateEnrollmentRejected, Reason: "code expired"}, "Enrollment code rejected: code expired"},
		{"rejected no reason", engine.Snapshot{State: engine.StateEnrollmentRejected}, "Enrollment code rejected"},
		{"no backends", engine.Snapshot{State: engine.StateNoBackends}, "No inference server found — start Ollama, LM Studio, llama.cpp or vLLM"},
		{"all switched off", engine.Snapshot{State: engine.StateNoBackends, Models: []engine.ModelStatus{off, off}}, "All models are switched off — turn one on below"},
		{"needs enrollment", engine.Snapshot{State: engine.StateNeedsEnrollment}, "Enter your enrollment code to start earning"},
		{"unknown", engine.Snapshot{State: engine.State(99)}, "Starting…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusText(tt.s, now); got != tt.want {
				t.Errorf("statusText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatusDetailAndTone(t *testing.T) {
	tests := []struct {
		s          engine.Snapshot
		detail     string
		tone       tone
		toggle     string
		settingsBt string
	}{
		{engine.Snapshot{State: engine.StateEarning, Coordinator: "wss://api.usepod.ai/provider/connect", JobsInFlight: 2},
			"Connected to api.usepod.ai · 2 jobs running", toneGood, "Pause earning", "Settings"},
		{engine.Snapshot{State: engine.StateWaiting, Coordinator: "wss://api.usepod.ai/provider/connect"},
			"Connected to api.usepod.ai", toneGood, "Pause earning", "Settings"},
		{engine.Snapshot{State: engine.StatePaused, JobsInFlight: 1},
			"Not taking new jobs · 1 job finishing", toneNeutral, "Start earning", "Settings"},
		{engine.Snapshot{State: engine.StateWaiting, Coordinator: "wss://api.usepod.ai/provider/connect",
			Problems: []string{"The earnings ledger is not working (disk full). 1 finished job is kept and will be written when it works again; retrying."}},
			"The earnings ledger is not working (disk full). 1 finished job is kept and will be written when it works again; retrying.", toneGood, "Pause earning", "Settings"},
		{engine.Snapshot{State: engine.StateOffline, LastError: "dial: refused"},
			"Last error: dial: refused", toneWarning, "Pause earning", "Settings"},
		{engine.Snapshot{State: engine.StateEnrollmentRejected},
			"Paste a new enrollment code in Settings.", toneError, "Pause earning", "Enter new code…"},
		{engine.Snapshot{State: engine.StateNoBackends, Backends: []engine.BackendStatus{{Kind: "ollama", URL: "http://localhost:11434"}}},
			"Not answering: Ollama at localhost:11434", toneWarning, "Pause earning", "Add a server…"},
	}
	for _, tt := range tests {
		t.Run(tt.s.State.String(), func(t *testing.T) {
			if got := statusDetail(tt.s); got != tt.detail {
				t.Errorf("detail = %q, want %q", got, tt.detail)
			}
			if got := statusTone(tt.s); got != tt.tone {
				t.Errorf("tone = %v, want %v", got, tt.tone)
			}
			if got := present.ToggleLabel(tt.s); got != tt.toggle {
				t.Errorf("toggle = %q, want %q", got, tt.toggle)
			}
			if got := settingsLabel(tt.s); got != tt.settingsBt {
				t.Errorf("settings button = %q, want %q", got, tt.settingsBt)
			}
		})
	}
}

func TestFormatPriceRoundTrips(t *testing.T) {
	tests := []struct {
		micro int64
		want  string
	}{
		{0, "0.00"},
		{100_000, "0.10"},
		{50_000, "0.05"},
		{123_456, "0.123456"},
		{1_500_000, "1.50"},
		{1, "0.000001"},
		{2_000_000, "2.00"},
	}
	for _, tt := range tests {
		got := formatPrice(tt.micro)
		if got != tt.want {
			t.Errorf("formatPrice(%d) = %q, want %q", tt.micro, got, tt.want)
		}
		back, err := parseUSDC(got)
		if err != nil || back != tt.micro {
			t.Errorf("parseUSDC(%q) = %d, %v; want %d", got, back, err, tt.micro)
		}
	}
}

func TestParseUSDC(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"0.10", 100_000, true},
		{" 0.1 ", 100_000, true},
		{"0,25", 250_000, true},
		{".5", 500_000, true},
		{"2", 2_000_000, true},
		{"2.", 2_000_000, true},
		{"0.000001", 1, true},
		{"0", 0, true},
		{"", 0, false},
		{".", 0, false},
		{"-1", 0, false},
		{"1.2345678", 0, false},
		{"abc", 0, false},
		{"1,000.5", 0, false},
		{"1e3", 0, false},
		{"1234567890", 0, false}, // a billion USDC per million tokens is a typo
	}
	for _, tt := range tests {
		got, err := parseUSDC(tt.in)
		if (err == nil) != tt.wantOK || got != tt.want {
			t.Errorf("parseUSDC(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.wantOK)
		}
	}
}

func TestFormatContextBytes(t *testing.T) {
	contexts := map[int]string{0: "—", 512: "512", 4096: "4K", 8192: "8K", 131072: "128K", 200000: "200K", 1 << 20: "1M", 2_000_000: "2M", 32000: "32K"}
	for n, want := range contexts {
		if got := formatContext(n); got != want {
			t.Errorf("formatContext(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatMemPair(18<<30, 24<<30); got != "18.0 / 24.0 GiB" {
		t.Errorf("formatMemPair = %q", got)
	}
	if got := formatMemPair(300<<20, 512<<20); got != "300 MiB / 512 MiB" {
		t.Errorf("formatMemPair small = %q", got)
	}
}

func TestHourlySeries(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 20, 0, 0, time.UTC)
	hour := func(h int) time.Time { return now.Truncate(time.Hour).Add(time.Duration(h) * time.Hour) }
	got := hourlySeries([]ledger.HourBucket{
		{Start: hour(-30), Micro: 99}, // too old
		{Start: hour(-23), Micro: 1},  // first slot
		{Start: hour(-1), Micro: 5},
		{Start: hour(0), Micro: 7},  // current hour, last slot
		{Start: hour(1), Micro: 42}, // future: ignored
	}, now)
	if len(got) != 24 || got[0] != 1 || got[22] != 5 || got[23] != 7 {
		t.Errorf("series = %v", got)
	}
	var sum int64
	for _, v := range got {
		sum += v
	}
	if sum != 13 {
		t.Errorf("sum = %d, want 13 (old and future buckets dropped)", sum)
	}
}

func TestRatePerHour(t *testing.T) {
	base := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	buckets := []ledger.HourBucket{
		{Start: base.Add(-2 * time.Hour), Micro: 1_000_000},
		{Start: base.Add(-time.Hour), Micro: 6000},
		{Start: base, Micro: 1000},
	}
	tests := []struct {
		at   time.Time
		want int64
	}{
		{base, 7000},                       // the whole previous hour is the window
		{base.Add(20 * time.Minute), 5000}, // 1000 + 40/60 of 6000
		{base.Add(59 * time.Minute), 1100}, // 1000 + 1/60 of 6000
		{base.Add(3 * time.Hour), 0},       // nothing recent
	}
	for _, tt := range tests {
		if got := ratePerHour(buckets, tt.at); got != tt.want {
			t.Errorf("ratePerHour at %s = %d, want %d", tt.at.Format("15:04"), got, tt.want)
		}
	}
}

func TestFieldFor(t *testing.T) {
	known := []string{"coordinator.url", "backends", "backends[1]", "backends[10]", "pricing.models", `pricing.models."llama3:8b"`, "limits.max_concurrent"}
	tests := map[string]string{
		"coordinator.url":                         "coordinator.url",
		"backends[1].url":                         "backends[1]",
		"backends[10].kind":                       "backends[10]",
		"backends[3].url":                         "backends", // row not in the form: the list's label
		`pricing.models."llama3:8b".input_per_1m`: `pricing.models."llama3:8b"`,
		`pricing.models."other".input_per_1m`:     "pricing.models",
		"limits.max_concurrent_x":                 "", // not a path extension
		"observability.log_level":                 "",
	}
	for key, want := range tests {
		if got := fieldFor(key, known); got != want {
			t.Errorf("fieldFor(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestGPUExtrasAndHistory(t *testing.T) {
	tests := []struct {
		g    GPUView
		want string
	}{
		{testGPU, "71 °C · 280 / 450 W"},
		{GPUView{HasTemp: true, TempC: 54.4}, "54 °C"},
		{GPUView{HasPower: true, PowerW: 141.6}, "142 W"},
		{GPUView{}, ""},
	}
	for _, tt := range tests {
		if got := gpuExtras(tt.g); got != tt.want {
			t.Errorf("gpuExtras = %q, want %q", got, tt.want)
		}
	}
	hist := []HardwareView{
		{GPUs: []GPUView{{Index: 0, UtilPercent: 10, HasUtil: true}, {Index: 1, UtilPercent: 90, HasUtil: true}}},
		{GPUs: []GPUView{{Index: 0, UtilPercent: 20, HasUtil: true}, {Index: 1}}},
	}
	if got := gpuUtilHistory(hist, 1); !slices.Equal(got, []float64{90}) {
		t.Errorf("history of GPU 1 = %v", got)
	}
}
