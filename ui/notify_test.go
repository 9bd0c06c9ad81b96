package ui

import (
	"context"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
)

// step is one input to notificationsFor: a snapshot at a moment (the same
// snapshot again is a tick) and the titles it should produce.
type step struct {
	at   time.Duration // since the start of the sequence
	s    engine.Snapshot
	want []string
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	start := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	var prev engine.Snapshot
	var memo notifyMemo
	for i, st := range steps {
		var notes []notification
		notes, memo = notificationsFor(prev, st.s, start.Add(st.at), memo)
		var got []string
		for _, n := range notes {
			if n.Title == "" || n.Body == "" {
				t.Errorf("step %d: empty notification %+v", i, n)
			}
			got = append(got, n.Title)
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("step %d (%v at %s): got %q, want %q", i, st.s.State, st.at, got, st.want)
		}
		prev = st.s
	}
}

func snap(state engine.State) engine.Snapshot {
	return engine.Snapshot{State: state, Coordinator: "wss://api.usepod.ai/provider/connect"}
}

func withBackend(s engine.Snapshot, healthy bool) engine.Snapshot {
	s.Backends = []engine.BackendStatus{{Kind: "ollama", URL: "http://localhost:11434", Healthy: healthy}}
	return s
}

func withJobs(s engine.Snapshot, jobs int64) engine.Snapshot {
	s.Earnings = ledger.Totals{Jobs: jobs, TotalMicro: jobs * 300}
	return s
}

func TestNotificationsEnrollmentRejected(t *testing.T) {
	rejected := snap(engine.StateEnrollmentRejected)
	rejected.Reason = "code expired"
	t.Run("on entering", func(t *testing.T) {
		runSteps(t, []step{
			{0, snap(engine.StateConnecting), nil},
			{time.Second, rejected, []string{"Enrollment code rejected"}},
			{2 * time.Second, rejected, nil}, // still rejected: once
			{3 * time.Second, snap(engine.StateConnecting), nil},
			{4 * time.Second, rejected, []string{"Enrollment code rejected"}}, // a new code, rejected again
		})
	})
	t.Run("as the first state", func(t *testing.T) {
		runSteps(t, []step{{0, rejected, []string{"Enrollment code rejected"}}})
	})
}

func TestNotificationsOffline(t *testing.T) {
	offline := snap(engine.StateOffline)
	t.Run("more than two minutes, across retries", func(t *testing.T) {
		runSteps(t, []step{
			{0, snap(engine.StateWaiting), nil},
			{10 * time.Second, offline, nil},
			{20 * time.Second, snap(engine.StateConnecting), nil}, // a retry does not end the outage
			{30 * time.Second, offline, nil},
			{130 * time.Second, offline, nil}, // exactly two minutes: not yet
			{131 * time.Second, offline, []string{"Offline for more than 2 minutes"}},
			{200 * time.Second, offline, nil}, // once per outage
			{210 * time.Second, snap(engine.StateWaiting), []string{"Back online"}},
		})
	})
	t.Run("short outage is silent", func(t *testing.T) {
		runSteps(t, []step{
			{0, snap(engine.StateWaiting), nil},
			{10 * time.Second, offline, nil},
			{60 * time.Second, snap(engine.StateEarning), nil},
			{200 * time.Second, snap(engine.StateEarning), nil},
			{210 * time.Second, offline, nil}, // a new outage starts its own clock
			{300 * time.Second, offline, nil},
			{331 * time.Second, offline, []string{"Offline for more than 2 minutes"}},
		})
	})
	t.Run("pausing ends the outage quietly", func(t *testing.T) {
		runSteps(t, []step{
			{0, offline, nil},
			{121 * time.Second, offline, []string{"Offline for more than 2 minutes"}},
			{130 * time.Second, snap(engine.StatePaused), nil},
			{400 * time.Second, snap(engine.StatePaused), nil},
		})
	})
}

func TestNotificationsBackends(t *testing.T) {
	w := snap(engine.StateWaiting)
	runSteps(t, []step{
		{0, withBackend(w, true), nil}, // first sight: not news
		{time.Second, withBackend(w, true), nil},
		{2 * time.Second, withBackend(w, false), []string{"Ollama went down"}},
		{3 * time.Second, withBackend(w, false), nil},
		{4 * time.Second, withBackend(w, true), []string{"Ollama is back"}},
		{5 * time.Second, w, nil}, // removed from the list: not news
		{6 * time.Second, withBackend(w, false), nil},
	})
}

func TestNotificationsFirstJob(t *testing.T) {
	e := snap(engine.StateEarning)
	t.Run("first ever", func(t *testing.T) {
		runSteps(t, []step{
			{0, withJobs(e, 0), nil},
			{time.Second, withJobs(e, 1), []string{"First job served"}},
			{2 * time.Second, withJobs(e, 2), nil},
		})
	})
	t.Run("not at every launch", func(t *testing.T) {
		runSteps(t, []step{
			{0, withJobs(e, 500), nil},
			{time.Second, withJobs(e, 501), nil},
		})
	})
}

// The notifier goroutine reads its own Watch channel and sends what
// notificationsFor decides, through Actions.Notify when it is set.
func TestNotifierGoroutine(t *testing.T) {
	eng := newFakeEngine(snap(engine.StateWaiting))
	got := make(chan string, 4)
	u, _ := newTestUI(t, eng, nil, Actions{Notify: func(title, body string) { got <- title + ": " + body }})
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { u.watchNotifications(ctx); close(done) }()

	eng.update(func(s *engine.Snapshot) {
		s.State, s.Reason = engine.StateEnrollmentRejected, "code expired"
	})
	select {
	case n := <-got:
		if want := "Enrollment code rejected: The coordinator said: code expired. Paste a new enrollment code in Settings."; n != want {
			t.Errorf("notification %q, want %q", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	cancel()
	<-done
}

// Without Actions.Notify the desktop's notification service is used.
func TestSendNotificationUsesApp(t *testing.T) {
	u, _ := newTestUI(t, newFakeEngine(snap(engine.StateWaiting)), nil, Actions{})
	test.AssertNotificationSent(t, fyne.NewNotification("Ollama went down", "Ollama at localhost:11434 stopped answering."), func() {
		u.notify(notification{Title: "Ollama went down", Body: "Ollama at localhost:11434 stopped answering."})
	})
}
