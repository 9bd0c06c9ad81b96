package app

import (
	"os"

	"golang.org/x/sys/windows"
)

// attachParentProcess is ATTACH_PARENT_PROCESS for AttachConsole.
const attachParentProcess = ^uintptr(0)

var attachConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")

// AttachConsole makes the GUI-subsystem .exe print to the
// console it was typed into (cmd, PowerShell) when it runs a command such as
// `usepod-agent version`: Windows gives a GUI program no console, so its
// output would vanish. A double-click (no arguments) keeps no console.
func AttachConsole(args []string) {
	if len(args) == 0 {
		return
	}
	if r, _, _ := attachConsole.Call(attachParentProcess); r == 0 {
		return // not started from a console
	}
	if f, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
		os.Stdout, os.Stderr = f, f
	}
}
