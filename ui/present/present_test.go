package present

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/policy"
)

func TestTrayItems(t *testing.T) {
	today := func(s engine.Snapshot) engine.Snapshot { s.Earnings.TodayMicro = 12_345; return s }
	tests := []struct {
		s    engine.Snapshot
		want TrayMenu
	}{
		{today(engine.Snapshot{State: engine.StateEarning}), TrayMenu{"Earning · 0.012345 USDC today", "Pause earning", false, IconEarning}},
		{today(engine.Snapshot{State: engine.StateWaiting}), TrayMenu{"Waiting for jobs · 0.012345 USDC today", "Pause earning", false, IconWaiting}},
		{today(engine.Snapshot{State: engine.StateConnecting}), TrayMenu{"Connecting… · 0.012345 USDC today", "Pause earning", false, IconWaiting}},
		{today(engine.Snapshot{State: engine.StatePaused}), TrayMenu{"Paused · 0.012345 USDC today", "Start earning", true, IconPaused}},
		{engine.Snapshot{State: engine.StateOffline, RetryAt: time.Now()}, TrayMenu{"Offline · 0.000000 USDC today", "Pause earning", false, IconAttention}},
		{engine.Snapshot{State: engine.StateEnrollmentRejected}, TrayMenu{"Enrollment code rejected · 0.000000 USDC today", "Pause earning", false, IconAttention}},
		{engine.Snapshot{State: engine.StateNoBackends}, TrayMenu{"No inference server · 0.000000 USDC today", "Pause earning", false, IconAttention}},
		{engine.Snapshot{State: engine.StateNeedsEnrollment}, TrayMenu{"Needs an enrollment code · 0.000000 USDC today", "Pause earning", false, IconAttention}},
		{engine.Snapshot{State: engine.State(99)}, TrayMenu{"Starting… · 0.000000 USDC today", "Pause earning", false, IconWaiting}},
	}
	for _, tt := range tests {
		t.Run(tt.s.State.String(), func(t *testing.T) {
			if got := TrayItems(tt.s); got != tt.want {
				t.Errorf("TrayItems = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrayIconAssets(t *testing.T) {
	want := map[TrayIcon]string{IconEarning: "earning", IconWaiting: "waiting", IconPaused: "paused", IconAttention: "offline"}
	for icon, name := range want {
		if got := icon.Asset(); got != name {
			t.Errorf("TrayIcon(%d).Asset() = %q, want %q", icon, got, name)
		}
	}
}

func TestStoppedStatus(t *testing.T) {
	long := strings.Repeat("disk full ", 20)
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("the earnings database is locked by another copy of the agent"),
			"Stopped: the earnings database is locked by another copy of the agent"},
		{errors.New("open ledger:\n  permission denied"), "Stopped: open ledger: permission denied"},
		{nil, "Stopped: the agent stopped unexpectedly"},
		{errors.New("  "), "Stopped: the agent stopped unexpectedly"},
		{errors.New(long), "Stopped: " + strings.TrimSpace(long[:79]) + "…"},
	}
	for _, tt := range tests {
		if got := StoppedStatus(tt.err); got != tt.want {
			t.Errorf("StoppedStatus(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestToggle(t *testing.T) {
	for state, want := range map[engine.State]string{
		engine.StatePaused:             "Start earning",
		engine.StateEarning:            "Pause earning",
		engine.StateOffline:            "Pause earning",
		engine.StateEnrollmentRejected: "Pause earning",
	} {
		s := engine.Snapshot{State: state}
		if got := ToggleLabel(s); got != want {
			t.Errorf("ToggleLabel(%v) = %q, want %q", state, got, want)
		}
		if got := WantsToEarn(s); got != (state != engine.StatePaused) {
			t.Errorf("WantsToEarn(%v) = %v", state, got)
		}
	}
}

func TestFormatUSDC(t *testing.T) {
	tests := []struct {
		micro int64
		want  string
	}{
		{0, "0.000000 USDC"},
		{1, "0.000001 USDC"},
		{300, "0.000300 USDC"},
		{48_213, "0.048213 USDC"},
		{999_999, "0.999999 USDC"},
		{1_000_000, "1.0000 USDC"},
		{12_345_678, "12.3457 USDC"}, // rounds half up at 4 decimals
		{12_345_649, "12.3456 USDC"},
		{1_234_567_891, "1,234.5679 USDC"},
		{9_999_999_960, "10,000.0000 USDC"}, // the carry keeps its band's decimals
		{10_000_000_000, "10,000.00 USDC"},
		{123_456_789_012, "123,456.79 USDC"},
		{-48_213, "-0.048213 USDC"},
		{-1_500_000, "-1.5000 USDC"},
		{math.MaxInt64, "9,223,372,036,854.78 USDC"},
		{math.MinInt64, "-9,223,372,036,854.78 USDC"},
	}
	for _, tt := range tests {
		if got := FormatUSDC(tt.micro); got != tt.want {
			t.Errorf("FormatUSDC(%d) = %q, want %q", tt.micro, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	counts := map[int64]string{0: "0", 999: "999", 1000: "1,000", 9322: "9,322", 1234567: "1,234,567", -1234: "-1,234"}
	for n, want := range counts {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHostOfAndBackendName(t *testing.T) {
	hosts := map[string]string{
		"wss://api.usepod.ai/provider/connect": "api.usepod.ai",
		"http://localhost:11434":               "localhost:11434",
		"http://127.0.0.1:8080/v1":             "127.0.0.1:8080",
		"localhost:1234":                       "localhost:1234",
		"":                                     "the coordinator",
		"wss://":                               "the coordinator",
	}
	for in, want := range hosts {
		if got := HostOf(in); got != want {
			t.Errorf("HostOf(%q) = %q, want %q", in, got, want)
		}
	}
	names := map[string]string{"ollama": "Ollama", "lmstudio": "LM Studio", "llamacpp": "llama.cpp", "vllm": "vLLM", "other": "other"}
	for kind, want := range names {
		if got := BackendName(kind); got != want {
			t.Errorf("BackendName(%q) = %q, want %q", kind, got, want)
		}
	}
}

func TestTrayItemsPolicy(t *testing.T) {
	busy := policy.Verdict{Cause: policy.CauseGPUBusy, Reason: "Paused while blender uses the GPU — resumes 2 min after it closes", Overridable: true}
	hot := policy.Verdict{Cause: policy.CauseHeat, Limit: 2, Reason: "Cooling down: GPU at 86 °C, 2 of 8 jobs at a time"}
	hotStop := policy.Verdict{Cause: policy.CauseHeat, Reason: "Cooling down: GPU at 90 °C — no jobs until it cools"}
	for _, tc := range []struct {
		name string
		s    engine.Snapshot
		want TrayMenu
	}{
		{"gpu busy", engine.Snapshot{State: engine.StateWaiting, Policy: busy},
			TrayMenu{busy.Reason + " · 0.000000 USDC today", "Start earning", true, IconPaused}},
		{"throttled", engine.Snapshot{State: engine.StateEarning, Policy: hot},
			TrayMenu{hot.Reason + " · 0.000000 USDC today", "Pause earning", false, IconEarning}},
		{"too hot for one job", engine.Snapshot{State: engine.StateWaiting, Policy: hotStop}, // not overridable
			TrayMenu{hotStop.Reason + " · 0.000000 USDC today", "Pause earning", false, IconWaiting}},
		{"hand pause wins", engine.Snapshot{State: engine.StatePaused, Policy: busy},
			TrayMenu{"Paused · 0.000000 USDC today", "Start earning", true, IconPaused}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TrayItems(tc.s); got != tc.want {
				t.Errorf("TrayItems = %+v, want %+v", got, tc.want)
			}
		})
	}
}
