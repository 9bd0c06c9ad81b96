package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

const (
	runKey = `Software\Microsoft\Windows\CurrentVersion\Run`
	// Task Manager's Startup tab records the user's on/off switch here,
	// under the same value name, overriding the Run value.
	approvedKey = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	valueName   = "UsePodAgent"
)

// Enable sets HKCU\...\CurrentVersion\Run\UsePodAgent to the command line,
// and clears a "disabled" mark Task Manager may have left, since the user
// has now asked for it.
func (e Entry) Enable(exe string, args []string) error {
	if err := checkCommand(exe, args); err != nil {
		return err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("autostart: open Run key: %w", err)
	}
	defer k.Close()
	cmd := windows.ComposeCommandLine(append([]string{exe}, args...))
	if err := k.SetStringValue(valueName, cmd); err != nil {
		return fmt.Errorf("autostart: set Run value: %w", err)
	}
	return deleteValue(approvedKey)
}

// Disable deletes the Run value (and Task Manager's mark for it). The value
// name is ours alone, so nothing else is touched.
func (e Entry) Disable() error {
	if err := deleteValue(runKey); err != nil {
		return err
	}
	return deleteValue(approvedKey)
}

// Enabled reports whether the Run value is set and Task Manager has not
// switched it off.
func (e Entry) Enabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("autostart: open Run key: %w", err)
	}
	defer k.Close()
	if _, _, err := k.GetStringValue(valueName); errors.Is(err, registry.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("autostart: read Run value: %w", err)
	}
	return !disabledInTaskManager(), nil
}

// disabledInTaskManager reads StartupApproved: the low bit of the first
// byte set means the user switched the entry off in Task Manager.
func disabledInTaskManager() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, approvedKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	b, _, err := k.GetBinaryValue(valueName)
	return err == nil && len(b) > 0 && b[0]&1 == 1
}

func deleteValue(key string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("autostart: open %s: %w", key, err)
	}
	defer k.Close()
	if err := k.DeleteValue(valueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("autostart: delete %s\\%s: %w", key, valueName, err)
	}
	return nil
}
