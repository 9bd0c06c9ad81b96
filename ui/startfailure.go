package ui

import (
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// StartFailure is why the app could not start, as its window explains it.
type StartFailure struct {
	What   string // in plain words, what could not be done
	Todo   string // what the user can do about it
	Detail string // the error itself
	// Folder is shown by an "Open folder" button through OpenFolder; ""
	// when no folder helps.
	Folder     string
	OpenFolder func(path string) error
}

// ShowStartFailure explains in a window why the app could not start (a
// settings file that does not parse, a keychain that refuses, a ledger that
// cannot open), since a double-clicked app has no terminal to read. It
// blocks until the user closes the window. Without a display it returns at
// once: the error has gone to stderr and the log.
func ShowStartFailure(fa fyne.App, f StartFailure) {
	if !HasDisplay() {
		return
	}
	w := fa.NewWindow("Use Pod Agent could not start")

	title := widget.NewLabel(f.What)
	title.TextStyle.Bold = true
	title.SizeName = theme.SizeNameSubHeadingText
	title.Wrapping = fyne.TextWrapWord
	todo := widget.NewLabel(f.Todo)
	todo.Wrapping = fyne.TextWrapWord
	detail := widget.NewLabel(f.Detail)
	detail.Wrapping = fyne.TextWrapWord
	detail.TextStyle.Monospace = true

	quit := widget.NewButton("Close", fa.Quit)
	quit.Importance = widget.HighImportance
	buttons := container.NewHBox(layout.NewSpacer())
	if f.Folder != "" && f.OpenFolder != nil {
		folder := f.Folder
		buttons.Add(widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), func() { f.OpenFolder(folder) }))
	}
	buttons.Add(quit)

	icon := widget.NewIcon(theme.ErrorIcon())
	head := container.NewBorder(nil, nil, icon, nil, title)
	body := container.NewVBox(head, todo, widget.NewSeparator(), detail)
	w.SetContent(container.NewPadded(container.NewBorder(nil, buttons, nil, nil, container.NewVScroll(body))))
	w.Resize(fyne.NewSize(620, 300))
	w.ShowAndRun()
}

// HasDisplay reports whether a window can be shown: always on Windows and
// macOS; on Linux only with an X or Wayland display.
func HasDisplay() bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
