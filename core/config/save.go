package config

import (
	"bytes"
	"errors"
	"fmt"
	"usepod.ai/agent/core/internal/atomicfile"

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
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}
