//go:build !nogui

package app

import (
	"fmt"
	"strings"
	"testing"

	"usepod.ai/agent/core/identity"
)

// The failed-start window says what to do in plain words, not the raw error.
func TestStartFailureSaysWhatToDo(t *testing.T) {
	keychain := &startError{
		what: "Use Pod Agent could not open the keychain that keeps this computer's identity key.",
		err:  fmt.Errorf("identity: read identity key: %w: no answer within 10s (a locked keychain waiting for its password?)", identity.ErrKeychainUnavailable),
	}
	if got := keychain.todo(); !strings.HasPrefix(strings.ToLower(got), "unlock the keychain") {
		t.Errorf("keychain todo = %q, want it to say to unlock the keychain", got)
	}
	settings := &startError{what: "Your settings file has a mistake.", settings: true, err: fmt.Errorf("agent.toml line 2: limits.max_concurrent: must be between 1 and 256, got 0")}
	if got := settings.todo(); !strings.Contains(got, "Correct the line") {
		t.Errorf("settings todo = %q", got)
	}
}
