// Package appstate keeps what the app remembers between runs that the
// user does not edit (agent.toml is theirs): whether they chose to earn.
package appstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"usepod.ai/agent/core/internal/atomicfile"
)

// File is the state file's name in the data folder.
const File = "state.json"

type savedState struct {
	Earning bool `json:"earning"`
}

// LoadEarning reads the user's last choice to earn. A first run (no file)
// earns. A file that cannot be read or parsed means paused, with the error:
// a login item must never quietly start earning after the user paused.
func LoadEarning(dataDir string) (bool, error) {
	path := filepath.Join(dataDir, File)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return false, fmt.Errorf("%s is damaged (%v); starting paused", path, err)
	}
	return st.Earning, nil
}

// SaveEarning writes the choice atomically: a crash leaves the old choice
// or the new one, never a broken file. It blocks on the disk.
func SaveEarning(dataDir string, earning bool) error {
	data, err := json.MarshalIndent(savedState{Earning: earning}, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, File)
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
