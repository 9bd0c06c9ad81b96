package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf16"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/explain"
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

// sent is a send func that records "title: body" in a channel.
func sent() (func(title, body string) error, chan string) {
	ch := make(chan string, 8)
	return func(title, body string) error { ch <- title + ": " + body; return nil }, ch
}

// Watch sends what notificationsFor decides and returns when ctx ends.
func TestWatchSends(t *testing.T) {
	snaps := make(chan engine.Snapshot)
	send, got := sent()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { Watch(ctx, snaps, send, nil); close(done) }()

	snaps <- snap(engine.StateWaiting)
	rejected := snap(engine.StateEnrollmentRejected)
	rejected.Reason = "code expired"
	snaps <- rejected
	select {
	case n := <-got:
		if want := "Enrollment code rejected: The coordinator said: code expired. Paste a new enrollment code in Settings."; n != want {
			t.Errorf("notification %q, want %q", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

// The outage notice fires on time with no further snapshot: the engine
// publishes nothing while it waits to retry. In a synctest bubble the two
// minutes pass at once, and the bubble proves no timer is left behind.
func TestWatchOutageNoticeNeedsNoSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		snaps := make(chan engine.Snapshot)
		send, got := sent()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { Watch(ctx, snaps, send, nil); close(done) }()

		snaps <- snap(engine.StateWaiting)
		start := time.Now()
		snaps <- snap(engine.StateOffline)
		time.Sleep(offlineNoticeAfter - time.Second)
		synctest.Wait()
		if len(got) != 0 {
			t.Fatalf("notice before two minutes: %q", <-got)
		}
		n := <-got
		if want := "Offline for more than 2 minutes: Cannot reach api.usepod.ai; retrying."; n != want {
			t.Errorf("notification %q, want %q", n, want)
		}
		if waited := time.Since(start); waited <= offlineNoticeAfter || waited > offlineNoticeAfter+time.Second {
			t.Errorf("notice after %s, want just over %s", waited, offlineNoticeAfter)
		}

		// Idle: nothing more is sent, however long the outage lasts.
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(got) != 0 {
			t.Errorf("a second notice for the same outage: %q", <-got)
		}
		snaps <- snap(engine.StateWaiting)
		if n := <-got; n != "Back online: Connected to api.usepod.ai again." {
			t.Errorf("notification %q after the outage", n)
		}
		cancel()
		<-done
	})
}

// A closed channel ends Watch too.
func TestWatchEndsWithChannel(t *testing.T) {
	snaps := make(chan engine.Snapshot)
	done := make(chan struct{})
	go func() {
		Watch(t.Context(), snaps, func(string, string) error { t.Error("unexpected notification"); return nil }, nil)
		close(done)
	}()
	close(snaps)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return when its channel closed")
	}
}

// A notification the desktop refuses is logged, and the next still goes out.
func TestWatchLogsSendErrors(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	snaps := make(chan engine.Snapshot)
	var titles []string
	send := func(title, body string) error {
		titles = append(titles, title)
		return errors.New("org.freedesktop.DBus.Error.ServiceUnknown: no notification server")
	}
	done := make(chan struct{})
	go func() { Watch(t.Context(), snaps, send, log); close(done) }()
	e := snap(engine.StateEarning)
	snaps <- withBackend(e, true)
	snaps <- withBackend(e, false)
	snaps <- withBackend(e, true)
	close(snaps)
	<-done
	if want := []string{"Ollama went down", "Ollama is back"}; !slices.Equal(titles, want) {
		t.Errorf("sent %q, want %q", titles, want)
	}
	if n := strings.Count(logged.String(), `msg="notification not shown"`); n != 2 {
		t.Errorf("logged %d failures, want 2:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "no notification server") {
		t.Errorf("the log lacks the error:\n%s", logged.String())
	}
	// Given a plain logger, each line carries one component, Watch's own
	// (STYLE: each component adds its own; the caller never adds it).
	for _, line := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
		if strings.Count(line, "component=") != 1 || !strings.Contains(line, "component=notify") {
			t.Errorf("%q: want component=notify, once", line)
		}
	}
}

// The toast script reaches PowerShell intact, and carries no text of the
// notification: that travels in environment variables.
func TestToastScriptEncoding(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(encodeCommand(toastScript + "‘’ Ünïcode"))
	if err != nil || len(raw)%2 != 0 {
		t.Fatalf("not base64 of UTF-16: %v", err)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if got := string(utf16.Decode(u)); got != toastScript+"‘’ Ünïcode" {
		t.Errorf("decoded script differs:\n%s", got)
	}
	for _, v := range []string{"$env:USEPOD_TOAST_TITLE", "$env:USEPOD_TOAST_BODY", "CreateToastNotifier($appId)"} {
		if !strings.Contains(toastScript, v) {
			t.Errorf("the toast script lacks %s", v)
		}
	}
}

// The "offline for more than 2 minutes" notification speaks plain words.
func TestOfflineNotificationUsesPlainWords(t *testing.T) {
	start := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	p := explain.Problem{Kind: explain.KindNetwork, Summary: "Can't reach Use Pod",
		Action: "Check this computer's internet connection; the agent keeps trying by itself.",
		Detail: "dial tcp: lookup api.usepod.ai: no such host", RetryAt: start.Add(17 * time.Second)}
	s := engine.Snapshot{State: engine.StateOffline, RetryAt: p.RetryAt, LastError: p.Detail, Problem: p,
		Coordinator: "wss://api.usepod.ai/provider/connect"}
	_, memo := notificationsFor(engine.Snapshot{}, s, start, notifyMemo{})
	out, _ := notificationsFor(s, s, start.Add(3*time.Minute), memo)
	if len(out) != 1 {
		t.Fatalf("notifications = %+v, want the offline one", out)
	}
	if want := "Can't reach Use Pod. Check this computer's internet connection; the agent keeps trying by itself."; out[0].Body != want {
		t.Errorf("body = %q, want %q", out[0].Body, want)
	}
}
