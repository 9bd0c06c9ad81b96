package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/ui/present"
)

// rawDNS is what the dashboard header showed before it spoke plain words.
const rawDNS = `dial coordinator: failed to WebSocket dial: failed to send handshake request: Get "https://api.usepod.ai/provider/connect": dial tcp: lookup api.usepod.ai: no such host`

func offlineWithDNSFailure(now time.Time) engine.Snapshot {
	p := explain.Problem{Kind: explain.KindNetwork, Summary: "Can't reach Use Pod",
		Action: "Check this computer's internet connection; the agent keeps trying by itself.",
		Detail: rawDNS, RetryAt: now.Add(17 * time.Second)}
	return engine.Snapshot{State: engine.StateOffline, RetryAt: p.RetryAt, LastError: rawDNS, Problem: p,
		Coordinator: "wss://api.usepod.ai/provider/connect"}
}

func TestHeaderAndTrayUsePlainWords(t *testing.T) {
	now := testClock
	s := offlineWithDNSFailure(now)
	if got, want := statusText(s, now), "Can't reach Use Pod — retrying in 17 s"; got != want {
		t.Errorf("statusText = %q, want %q", got, want)
	}
	if got, want := statusDetail(s), "Check this computer's internet connection; the agent keeps trying by itself."; got != want {
		t.Errorf("statusDetail = %q, want %q", got, want)
	}
	tray := present.TrayItems(s)
	if !strings.HasPrefix(tray.Status, "Can't reach Use Pod · ") || tray.Icon != present.IconAttention {
		t.Errorf("tray = %+v", tray)
	}
	for _, shown := range []string{statusText(s, now), statusDetail(s), tray.Status} {
		if strings.Contains(shown, "dial") || strings.Contains(shown, "lookup") {
			t.Errorf("%q shows the technical text", shown)
		}
	}

	// A failure that does not stop earning shows under the state.
	side := earningSnapshot()
	side.Problem = explain.Problem{Kind: explain.KindLedger, Summary: "Earnings can't be recorded: the disk is full",
		Action: "Free some space on this computer's disk.", Detail: "could not save the earnings record: database or disk is full"}
	if got := statusText(side, now); !strings.HasPrefix(got, "Earning") {
		t.Errorf("statusText with a side problem = %q, want the state first", got)
	}
	if got, want := statusDetail(side), "Earnings can't be recorded: the disk is full — free some space on this computer's disk."; got != want {
		t.Errorf("statusDetail with a side problem = %q, want %q", got, want)
	}
	if got := statusTone(side); got != toneWarning {
		t.Errorf("tone with a side problem = %v, want warning", got)
	}

	// The rejection reason stays the coordinator's own words.
	rej := engine.Snapshot{State: engine.StateEnrollmentRejected, Reason: "code expired", Problem: explain.Rejected("code expired")}
	if got := statusText(rej, now); got != "Use Pod turned this agent away: code expired" {
		t.Errorf("statusText rejected = %q", got)
	}
}

// The technical text is behind a Details control in the header.
func TestDashboardDetailsShowTheTechnicalText(t *testing.T) {
	s := offlineWithDNSFailure(testClock)
	u, _ := newTestUI(t, newFakeEngine(s), nil, Actions{})
	d := u.dashboard()
	d.apply(s, testClock)
	if d.title.Text != "Can't reach Use Pod — retrying in 17 s" {
		t.Errorf("header = %q", d.title.Text)
	}
	if d.detailsText.Visible() {
		t.Error("the technical text shows before Details is pressed")
	}
	if !d.detailsButton.Visible() {
		t.Fatal("no Details control while there is a problem")
	}
	test.Tap(d.detailsButton)
	if !d.detailsText.Visible() || d.detailsText.Text != rawDNS {
		t.Errorf("after Details: visible %v, text %q; want the raw error", d.detailsText.Visible(), d.detailsText.Text)
	}
	test.Tap(d.detailsButton)
	if d.detailsText.Visible() {
		t.Error("pressing again does not hide the details")
	}

	// Nothing wrong: no Details control.
	d.apply(earningSnapshot(), testClock)
	if d.detailsButton.Visible() || d.detailsText.Visible() {
		t.Error("the Details control shows with nothing wrong")
	}
}

func TestModelDownSince(t *testing.T) {
	since := time.Date(2026, 3, 4, 14, 5, 0, 0, time.Local)
	m := engine.ModelStatus{ID: "tiny:latest", Enabled: true, DownSince: since}
	if got, want := modelStateAt(m, since.Add(20*time.Minute)), "Server down since 14:05"; got != want {
		t.Errorf("modelStateAt = %q, want %q", got, want)
	}
	if got, want := modelStateAt(m, since.Add(30*time.Hour)), "Server down since 4 Mar 14:05"; got != want {
		t.Errorf("modelStateAt a day later = %q, want %q", got, want)
	}
	if got := modelStateAt(engine.ModelStatus{Enabled: true}, since); got != "Server down" {
		t.Errorf("modelStateAt without a time = %q", got)
	}
}

// A settings file that cannot be written is told in plain words, with the
// technical text after them.
func TestSettingsSaveFailureInPlainWords(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eng.saveTo = filepath.Join(notADir, "agent.toml")
	_, s, a := openSettings(t, eng, Actions{})
	paste(a, s.code, "POD-ENROLL-ABCD1234")
	test.Tap(s.save)
	got := s.general.Text
	if !strings.HasPrefix(got, "Nothing was saved. The settings could not be saved — check that") || !strings.Contains(got, "not a directory") {
		t.Errorf("settings error = %q", got)
	}
}
