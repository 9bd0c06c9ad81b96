//go:build unix

package ledger

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The ledger says what was earned when: its file, -wal and -shm are the
// owner's only (0600), whatever the umask, in a folder made with looser
// permissions, and an existing loose file is tightened.
func TestLedgerFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0) // the loosest umask: nothing is taken off
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(path string) {
		t.Helper()
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.Record(t.Context(), Entry{At: time.Now(), JobID: "j", Model: "m"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), st.Mode().Perm())
			}
		}
	}
	check(filepath.Join(dir, "new.db"))

	loose := filepath.Join(dir, "loose.db")
	l, err := Open(loose)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, p := range []string{loose + "-wal", loose + "-shm"} {
		if _, err := os.Stat(p); err != nil {
			os.WriteFile(p, nil, 0o644) // as a crash would leave them
		}
	}
	for _, p := range []string{loose, loose + "-wal", loose + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check(loose)
}
