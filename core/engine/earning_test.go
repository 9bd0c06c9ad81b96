package engine

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// savedChoices records what SaveEarning was given.
type savedChoices struct {
	mu   sync.Mutex
	got  []bool
	fail error
}

func (s *savedChoices) save(earning bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, earning)
	return s.fail
}

func (s *savedChoices) list() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.got...)
}

// waitLast waits until the last saved choice is want.
func (s *savedChoices) waitLast(t *testing.T, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l := s.list(); len(l) > 0 && l[len(l)-1] == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("saved choices %v, want the last to be %v", s.list(), want)
}

func TestStartAndPauseSaveTheChoice(t *testing.T) {
	saved := &savedChoices{}
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) {
		o.StartPaused = true
		o.SaveEarning = saved.save
	}))
	h.waitState(stateIs(StatePaused), "paused at start, as saved")
	if l := saved.list(); len(l) != 0 {
		t.Fatalf("starting paused saved %v; only the user's Start and Pause save", l)
	}
	h.eng.Start()
	h.provider()
	saved.waitLast(t, true)
	h.eng.Pause()
	saved.waitLast(t, false)
	h.waitState(stateIs(StatePaused), "paused")

	// Quick changes: the last one is what stays saved. waitSaves returns
	// once every save these started has run, so none can come after.
	before := len(saved.list())
	h.eng.Start()
	h.eng.Pause()
	h.eng.Start()
	h.eng.Pause()
	h.eng.waitSaves(ctxT(t))
	if l := saved.list(); len(l) <= before || l[len(l)-1] != false {
		t.Fatalf("saved %v: the last save is not the last choice (paused)", l)
	}
}

func TestQuitDoesNotSaveAPause(t *testing.T) {
	saved := &savedChoices{}
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) { o.SaveEarning = saved.save }))
	h.provider()
	if err := h.eng.Drain(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Once Run has returned and its saves are done, nothing can save later.
	h.stop()
	h.eng.waitSaves(ctxT(t))
	if l := saved.list(); len(l) != 0 {
		t.Fatalf("quitting saved %v; the next start must earn as before", l)
	}
}

func TestFailingToSaveTheChoiceIsShownButDoesNotBlock(t *testing.T) {
	saved := &savedChoices{fail: errors.New("open state.json: permission denied")}
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) {
		o.StartPaused = true
		o.SaveEarning = saved.save
	}))
	h.waitState(stateIs(StatePaused), "paused")
	h.eng.Start()
	h.provider() // the session comes up all the same
	s := h.waitState(func(s Snapshot) bool { return strings.Contains(s.LastError, "permission denied") }, "the failure shown")
	if !strings.Contains(s.LastError, "earn") {
		t.Errorf("LastError = %q; want it to say what was not saved", s.LastError)
	}
	if s.Problem.Summary != "The choice to earn or pause could not be saved" || !strings.Contains(s.Problem.Detail, "permission denied") {
		t.Errorf("Problem = %+v", s.Problem)
	}
}

// A pause just before quitting is saved before Drain returns: the app exits
// right after, and a login item must not start earning next time.
func TestDrainWaitsForThePauseToBeSaved(t *testing.T) {
	saved := &savedChoices{}
	slow := func(on bool) error { time.Sleep(200 * time.Millisecond); return saved.save(on) }
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) { o.SaveEarning = slow }))
	h.provider()
	h.eng.Pause()
	if err := h.eng.Drain(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if l := saved.list(); len(l) != 1 || l[0] != false {
		t.Fatalf("saved %v when Drain returned, want [false]", l)
	}
}
