package ui

import (
	"context"
	"testing"

	"usepod.ai/agent/core/engine"
)

// A new user (no provider id, no code) gets the settings window at start;
// an enrolled one does not.
func TestFirstRunOpensSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state engine.State
		want  bool
	}{
		{"needs enrollment", engine.StateNeedsEnrollment, true},
		{"enrolled and waiting", engine.StateWaiting, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := newFakeEngine(engine.Snapshot{State: tc.state, PublicKey: "cHVibGlj"})
			u, _ := newTestUI(t, eng, nil, Actions{})
			p := newPump(t, u)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); u.watchFirstRun(ctx) }()
			if tc.want {
				p.until(t, "the settings window", func() bool { return u.settings != nil })
			}
			<-done // it returns after the first final snapshot either way
			cancel()
			if got := u.settings != nil; got != tc.want {
				t.Fatalf("settings shown = %v, want %v", got, tc.want)
			}
		})
	}
}
