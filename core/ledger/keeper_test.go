package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// shortBusyTimeout makes a locked ledger fail in 50 ms instead of 5 s.
func shortBusyTimeout(t *testing.T) {
	old := busyTimeoutMs
	busyTimeoutMs = 50
	t.Cleanup(func() { busyTimeoutMs = old })
}

func fastKeeper(t *testing.T, path string) *Keeper {
	t.Helper()
	return fastKeeperLog(t, path, nil)
}

// fastKeeperLog is fastKeeper logging to log.
func fastKeeperLog(t *testing.T, path string, log *slog.Logger) *Keeper {
	t.Helper()
	oldBase, oldMax := retryBase, retryMax
	retryBase, retryMax = 20*time.Millisecond, 100*time.Millisecond
	k := OpenKeeper(path, log)
	t.Cleanup(func() {
		k.Close()
		retryBase, retryMax = oldBase, oldMax
	})
	return k
}

// lockLedger holds SQLite's write lock on path from a second connection,
// as another program would, until the returned function is called.
func lockLedger(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countMessage is a slog handler that counts the records with one message.
type countMessage struct {
	msg string
	n   *atomic.Int32
}

func (h countMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h countMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countMessage) WithGroup(string) slog.Handler      { return h }

func job(id string) Entry {
	return Entry{At: time.Now(), JobID: id, Model: "m", Backend: "vllm", OutputTokens: 1, OutputPer1M: 1_000_000}
}

// A ledger locked by another program keeps the job, says so, and writes it
// once the lock is gone; a job recorded twice meanwhile counts once.
func TestKeeperKeepsJobsWhileTheLedgerIsLocked(t *testing.T) {
	shortBusyTimeout(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	var failedRetries atomic.Int32
	k := fastKeeperLog(t, path, slog.New(countMessage{"the earnings ledger still cannot write", &failedRetries}))
	if err := k.Record(t.Context(), job("j1")); err != nil {
		t.Fatal(err)
	}
	release := lockLedger(t, path)
	if err := k.Record(t.Context(), job("j2")); err != nil {
		t.Fatalf("Record on a locked ledger = %v, want the job kept", err)
	}
	if err := k.Record(t.Context(), job("j1")); err != nil { // a repeated job_done
		t.Fatal(err)
	}
	if p := k.Problem(); !strings.Contains(p, "locked by another program") || !strings.Contains(p, "2 finished jobs are kept") {
		t.Fatalf("Problem() = %q", p)
	}
	st, err := os.Stat(path + JournalSuffix)
	if err != nil || st.Mode().Perm() != 0o600 && os.PathSeparator == '/' {
		t.Fatalf("journal: %v %v", st, err)
	}
	// Retries fail while the lock is held: two have, and both jobs wait.
	waitFor(t, "two retries to fail", func() bool { return failedRetries.Load() >= 2 })
	if k.Pending() != 2 {
		t.Fatalf("pending %d while locked, after two failed retries, want 2", k.Pending())
	}

	release()
	waitFor(t, "the kept jobs to be written", func() bool { return k.Pending() == 0 && k.Problem() == "" })
	tot, err := k.Totals(t.Context(), time.Now())
	if err != nil || tot.Jobs != 2 || tot.TotalMicro != 2 {
		t.Fatalf("totals %+v, %v; want 2 jobs, each counted once", tot, err)
	}
	if _, err := os.Stat(path + JournalSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("journal left after every job was written: %v", err)
	}
	if err := k.Record(t.Context(), job("j3")); err != nil {
		t.Fatal(err)
	}
	if tot, _ := k.Totals(t.Context(), time.Now()); tot.Jobs != 3 {
		t.Fatalf("after recovery: %d jobs", tot.Jobs)
	}
}

// A ledger that cannot be opened at start leaves the keeper working: jobs
// are kept, the problem is shown, and the ledger is opened when it can be.
func TestKeeperOpensTheLedgerLater(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "data")
	os.WriteFile(blocker, []byte("a file where the folder should be"), 0o600)
	path := filepath.Join(blocker, "ledger.db")
	k := fastKeeper(t, path)
	if k.Problem() == "" {
		t.Fatal("no problem shown for a ledger that cannot be opened")
	}
	if err := k.Record(t.Context(), job("j1")); err != nil {
		t.Fatalf("Record = %v, want the job kept", err)
	}
	if _, err := k.Totals(t.Context(), time.Now()); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Fatalf("Totals on an unopened ledger: %v", err)
	}
	if !strings.Contains(k.Problem(), "1 finished job is kept") {
		t.Fatalf("Problem() = %q", k.Problem())
	}
	os.Remove(blocker)
	waitFor(t, "the ledger to open and take the job", func() bool { return k.Pending() == 0 && k.Problem() == "" })
	if tot, err := k.Totals(t.Context(), time.Now()); err != nil || tot.Jobs != 1 {
		t.Fatalf("totals %+v, %v", tot, err)
	}
}

// Jobs kept when the agent stops are in the journal and written by the next
// run; one already in the ledger is not counted twice.
func TestKeeperJournalOutlivesARestart(t *testing.T) {
	shortBusyTimeout(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	k := OpenKeeper(path, nil)
	k.Record(t.Context(), job("j1"))
	release := lockLedger(t, path)
	k.Record(t.Context(), job("j2"))
	k.Record(t.Context(), job("j1"))
	k.Close()
	release()
	// A line cut short by a crash is skipped.
	f, _ := os.OpenFile(path+JournalSuffix, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"at_ms":1,"job_id":"cut`)
	f.Close()

	k2 := OpenKeeper(path, nil)
	defer k2.Close()
	if k2.Pending() != 0 || k2.Problem() != "" {
		t.Fatalf("after restart: pending %d, problem %q", k2.Pending(), k2.Problem())
	}
	tot, err := k2.Totals(t.Context(), time.Now())
	if err != nil || tot.Jobs != 2 {
		t.Fatalf("totals %+v, %v; want j1 and j2 once each", tot, err)
	}
}

// walHeaderSize is the size of the header SQLite writes at the start of a
// WAL file, before its first frame.
const walHeaderSize = 32

// walHeader reads the header of the ledger's WAL file: nil when the file
// is missing or shorter than a header.
func walHeader(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path + "-wal")
	if err != nil || len(b) < walHeaderSize {
		return nil
	}
	return b[:walHeaderSize]
}

// The first job after a restart is recorded like every later one: the
// WAL, which SQLite deletes on a clean close, is set up (header written
// and synced, folder synced) by OpenKeeper, so the first Record only
// appends its frames, leaving the header as it was. Before, the first
// Record wrote the header itself, with two more syncs, while the first
// job's job_done waited (issue 18 item 7).
func TestKeeperReadiesTheWALBeforeTheFirstRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	k := OpenKeeper(path, nil)
	if err := k.Record(t.Context(), job("before-restart")); err != nil {
		t.Fatal(err)
	}
	k.Close()
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after a clean close the WAL is still there (%v): this test no longer tests a restart's first record", err)
	}

	k2 := OpenKeeper(path, nil)
	defer k2.Close()
	header := walHeader(t, path)
	if header == nil {
		t.Fatal("after OpenKeeper the WAL has no header: the first job's record would set it up, with two syncs more than any later one")
	}
	if err := k2.Record(t.Context(), job("first-after-restart")); err != nil {
		t.Fatal(err)
	}
	if got := walHeader(t, path); !bytes.Equal(got, header) {
		t.Fatalf("the first Record after a restart rewrote the WAL header (%x, was %x): it did the log's setup", got, header)
	}
	if tot, err := k2.Totals(t.Context(), time.Now()); err != nil || tot.Jobs != 2 {
		t.Fatalf("totals %+v, %v; want both jobs", tot, err)
	}
}
