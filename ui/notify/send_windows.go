//go:build windows

package notify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sendTimeout bounds one toast; PowerShell takes a second or two to start.
const sendTimeout = 30 * time.Second

// createNoWindow keeps the console program from opening a console window.
const createNoWindow = 0x08000000

// Send shows a toast notification (see toastScript for how). It blocks
// until PowerShell has handed the toast to Windows.
func Send(title, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	// The full path: Windows PowerShell 5.1 can load WinRT types, pwsh 7
	// cannot, and a powershell.exe found on PATH could be anything.
	shell := filepath.Join(os.Getenv("SystemRoot"), "System32", "WindowsPowerShell", "v1.0", "powershell.exe")
	cmd := exec.CommandContext(ctx, shell, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
		"-WindowStyle", "Hidden", "-EncodedCommand", encodeCommand(toastScript))
	cmd.Env = append(os.Environ(),
		"USEPOD_TOAST_TITLE="+oneLine(title),
		"USEPOD_TOAST_BODY="+body,
		"USEPOD_TOAST_ICON="+iconFile(),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: createNoWindow}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("show toast: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// oneLine keeps a title on one line, as a toast shows it.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
