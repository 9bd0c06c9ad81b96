package engine

import (
	"context"
	"fmt"
)

// saveEarning hands the user's latest choice to earn or not to
// Options.SaveEarning without blocking the caller (Start and Pause are
// called from the UI goroutine; the save touches the disk). Saves run one at
// a time and each saves the choice as it is when it runs, so the last save
// is always the last choice, whatever order the goroutines run in.
func (e *Engine) saveEarning() {
	if e.opts.SaveEarning == nil {
		return
	}
	e.saves.Add(1)
	go func() {
		defer e.saves.Done()
		e.saveMu.Lock()
		defer e.saveMu.Unlock()
		e.mu.Lock()
		want := e.want
		e.mu.Unlock()
		if err := e.opts.SaveEarning(want); err != nil {
			what := "that earning is paused"
			if want {
				what = "that earning is on"
			}
			e.log.Error("could not save the choice to earn; the next start may not follow it", "earning", want, "err", err)
			e.setError(fmt.Errorf("could not remember %s for the next start: %w", what, err))
		}
	}()
}

// waitSaves waits for the choices being saved, or for ctx to end: Drain
// calls it so a pause just before quitting is on disk before the app exits.
func (e *Engine) waitSaves(ctx context.Context) {
	done := make(chan struct{})
	go func() { e.saves.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
