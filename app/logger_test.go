package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// brokenWriter fails every write, as os.Stderr does in a Windows app
// started by a double click (there is no console).
type brokenWriter struct {
	mu     sync.Mutex
	writes int
}

func (b *brokenWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.writes++
	b.mu.Unlock()
	return 0, errors.New("the handle is invalid")
}

func TestLoggerKeepsWritingTheFileWhenStderrFails(t *testing.T) {
	dir := t.TempDir()
	c := &cli{stdout: &bytes.Buffer{}, stderr: &brokenWriter{}}
	log, closeLog, err := c.newLogger(dir, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("first line")
	log.Info("second line")
	closeLog()
	data, err := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"first line", "second line"} {
		if !strings.Contains(got, want) {
			t.Errorf("the log file lacks %q; it has:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "the handle is invalid"); n != 1 {
		t.Errorf("the failing writer is reported %d times in the file, want once:\n%s", n, got)
	}
}
