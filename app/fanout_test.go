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

func TestFanOutWritesToEveryWriterAndReportsEachFailureOnce(t *testing.T) {
	var a, c bytes.Buffer
	b := &brokenWriter{}
	var reports []string
	w := newFanOut(func(name string, err error) { reports = append(reports, name+": "+err.Error()) },
		namedWriter{"a", &a}, namedWriter{"b", b}, namedWriter{"c", &c})
	for range 3 {
		n, err := w.Write([]byte("x\n"))
		if n != 2 || err != nil {
			t.Fatalf("Write = %d, %v; want 2, nil while one writer still works", n, err)
		}
	}
	if a.String() != "x\nx\nx\n" || c.String() != "x\nx\nx\n" {
		t.Errorf("a = %q, c = %q; want three lines each", a.String(), c.String())
	}
	if b.writes != 3 {
		t.Errorf("the broken writer was tried %d times, want 3 (it may come back)", b.writes)
	}
	if len(reports) != 1 || reports[0] != "b: the handle is invalid" {
		t.Errorf("reports = %q, want one for b", reports)
	}
}

func TestFanOutFailsWhenEveryWriterFails(t *testing.T) {
	w := newFanOut(nil, namedWriter{"a", &brokenWriter{}}, namedWriter{"b", &brokenWriter{}})
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write succeeded with no working writer")
	}
}
