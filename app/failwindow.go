//go:build !nogui

package app

import (
	"errors"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/explain"
)

// showStartFailure explains in a window why the app could not start (a
// settings file that does not parse, a keychain that refuses, a ledger that
// cannot open), since a double-clicked app has no terminal to read. It
// blocks until the user closes the window. Without a display it returns at
// once: the error has gone to stderr and the log.
func showStartFailure(err error) {
	if !hasDisplay() {
		return
	}
	se := &startError{what: "Use Pod Agent could not start.", err: err}
	errors.As(err, &se)

	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := fa.NewWindow("Use Pod Agent could not start")

	title := widget.NewLabel(se.what)
	title.TextStyle.Bold = true
	title.SizeName = theme.SizeNameSubHeadingText
	title.Wrapping = fyne.TextWrapWord
	todo := widget.NewLabel(se.todo())
	todo.Wrapping = fyne.TextWrapWord
	detail := widget.NewLabel(se.err.Error())
	detail.Wrapping = fyne.TextWrapWord
	detail.TextStyle.Monospace = true

	quit := widget.NewButton("Close", fa.Quit)
	quit.Importance = widget.HighImportance
	buttons := container.NewHBox(layout.NewSpacer())
	if se.folder != "" {
		folder := se.folder
		buttons.Add(widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), func() { openFolder(folder) }))
	}
	buttons.Add(quit)

	icon := widget.NewIcon(theme.ErrorIcon())
	head := container.NewBorder(nil, nil, icon, nil, title)
	body := container.NewVBox(head, todo, widget.NewSeparator(), detail)
	w.SetContent(container.NewPadded(container.NewBorder(nil, buttons, nil, nil, container.NewVScroll(body))))
	w.Resize(fyne.NewSize(620, 300))
	w.ShowAndRun()
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

// hasDisplay reports whether a window can be shown: always on Windows and
// macOS; on Linux only with an X or Wayland display.
func hasDisplay() bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
