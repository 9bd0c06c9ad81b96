package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/BurntSushi/toml"
)

const fileHeader = `# Use Pod agent settings, written by the agent.
# Comments added here are not kept when the agent saves its settings.

`

// Save writes c to path, replacing the file whole: the file on disk is
// always either the old one or the new one, never a mix, and it is readable
// by its owner only (0600; it may hold an enrollment code and API keys).
// An invalid config is never saved: Save returns its *ValidationError and
// leaves the file untouched. Comments in an existing file are not kept.
// Save blocks on disk I/O, fsync included.
func Save(path string, c Config) error {
	c = c.Clone()
	c.Normalize()
	if err := c.Validate(); err != nil {
		if ve, ok := errors.AsType[*ValidationError](err); ok {
			ve.Path = path
		}
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(fileHeader)
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// rename is os.Rename; tests replace it to stop a save just before the
// rename, as a crash would.
var rename = os.Rename

// writeFileAtomic writes data to a temporary file beside path, syncs it,
// makes it 0600 and renames it over path, then syncs the folder so the
// rename itself survives a power cut. On failure the temporary file is
// removed and path is untouched.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync a folder, and
// does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
