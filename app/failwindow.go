//go:build !nogui

package app

import (
	"errors"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/ui"
)

// showStartFailure shows why the app could not start in a window (see
// ui.ShowStartFailure), since a double-clicked app has no terminal to read.
// It blocks until the window is closed; without a display it returns.
func showStartFailure(err error) {
	if !ui.HasDisplay() {
		return
	}
	se := &startError{what: "Use Pod Agent could not start.", err: err}
	errors.As(err, &se)
	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	ui.ShowStartFailure(fa, ui.StartFailure{What: se.what, Todo: se.todo(), Detail: se.err.Error(), Folder: se.folder, OpenFolder: openFolder})
}

// todo says what the user can do about a failed start.
func (e *startError) todo() string {
	switch {
	case e.settings:
		return "Correct the line named below in the settings file (Open folder shows it), or delete the file to start again with the default settings. Then open Use Pod Agent again."
	}
	if p := explain.Error(e.err); p.Action != "" {
		return p.Action
	}
	if e.folder != "" {
		return "The details below say what went wrong. Open folder shows where Use Pod Agent keeps its files; then open Use Pod Agent again."
	}
	return "The details below say what went wrong. Open Use Pod Agent again once it is fixed."
}
