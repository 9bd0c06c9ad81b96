package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLogFileRotatesAtTheCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "agent.log")
	lf, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	total := 0
	for total <= MaxBytes+4096 {
		if _, err := lf.Write(line); err != nil {
			t.Fatal(err)
		}
		total += len(line)
	}
	lf.Close()
	cur, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(path + ".1")
	if err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	if cur.Size() > MaxBytes || old.Size() > MaxBytes || cur.Size()+old.Size() != int64(total) {
		t.Fatalf("sizes %d + %d, wrote %d", cur.Size(), old.Size(), total)
	}
	if cur.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v, want 0600", cur.Mode().Perm())
	}
}
