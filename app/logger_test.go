package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"usepod.ai/agent/internal/testrig/writers"
)

func TestLoggerKeepsWritingTheFileWhenStderrFails(t *testing.T) {
	dir := t.TempDir()
	c := &cli{stdout: &bytes.Buffer{}, stderr: &writers.Broken{}}
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
