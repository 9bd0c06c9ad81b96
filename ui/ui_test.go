package ui

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Run starts one goroutine per surface and stops them all when the app's
// loop ends (the test app's Run returns at once).
func TestRunStopsItsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), &fakeHW{view: gpuSample()}, Actions{})
	u.do = func(func()) {} // no UI loop here: drop widget work rather than race on it

	done := make(chan error, 1)
	go func() { done <- u.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the app's loop ended")
	}
	if !u.dash.visible.Load() {
		t.Error("without a tray Run did not show the dashboard")
	}
}
