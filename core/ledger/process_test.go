package ledger

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// These tests run the test binary again as a child process: with
// childEnv set, TestMain runs one of the child roles instead of the tests.
const (
	childEnv     = "LEDGER_TEST_CHILD"
	childPathEnv = "LEDGER_TEST_PATH"
)

// durableJob is what the child of TestKillAfterRecord records.
var durableJob = Entry{
	At: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), JobID: "job-kill-9", Model: "llama", Backend: "llamacpp",
	InputTokens: 1234, OutputTokens: 567, InputPer1M: 150_000, OutputPer1M: 600_000, DurationMs: 2500,
}

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "record":
		childRecord(os.Getenv(childPathEnv))
	case "open":
		childOpen(os.Getenv(childPathEnv))
	default:
		fmt.Fprintln(os.Stderr, "unknown child role")
		os.Exit(2)
	}
}

// childRecord records durableJob, says so, and waits to be killed.
func childRecord(path string) {
	l, err := Open(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if err := l.Record(context.Background(), durableJob); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("recorded")
	time.Sleep(time.Hour) // never Close: the parent kills us
	os.Exit(3)
}

// childOpen tries to open each path (separated by the list separator) and
// prints one line per path: "ok", or "noaccess=<bool> <message>".
func childOpen(paths string) {
	for _, p := range filepath.SplitList(paths) {
		l, err := Open(p)
		if err != nil {
			fmt.Printf("noaccess=%v %s\n", errors.Is(err, ErrNoAccess), strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		l.Close()
		fmt.Println("ok")
	}
	os.Exit(0)
}

// TestKillAfterRecord checks that a job is on disk the moment Record
// returns: a child process records it and is killed with SIGKILL (no
// chance to close or flush anything); the job must be in the ledger after.
func TestKillAfterRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earnings.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=record", childPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		if line != "recorded" {
			t.Fatalf("child said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not record within 30s")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly; it should have been killed")
	}

	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	page, err := l.List(t.Context(), JobQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 1 {
		t.Fatalf("after kill -9 the ledger holds %d jobs, want 1", len(page.Jobs))
	}
	want, j := durableJob, page.Jobs[0]
	if !j.At.Equal(want.At) {
		t.Fatalf("At = %v, want %v", j.At, want.At)
	}
	got := Entry{At: want.At, JobID: j.JobID, Model: j.Model, Backend: j.Backend, InputTokens: j.InputTokens, OutputTokens: j.OutputTokens,
		InputPer1M: j.InputPer1M, OutputPer1M: j.OutputPer1M, DurationMs: j.DurationMs}
	if got != want || !j.Done() {
		t.Fatalf("job after kill -9 = %+v, want %+v, done", j, want)
	}
	var e12 int64
	if err := l.db.QueryRow("SELECT amount_e12 FROM jobs WHERE job_id = ?", want.JobID).Scan(&e12); err != nil {
		t.Fatal(err)
	}
	// 1234*150000 + 567*600000 = 185,100,000 + 340,200,000
	if e12 != 525_300_000 {
		t.Fatalf("amount_e12 = %d, want 525300000", e12)
	}
	if tot := mustTotals(t, l, want.At); tot.TotalMicro != 525 || tot.Jobs != 1 || tot.TodayMicro != 525 {
		t.Fatalf("totals after kill -9: %+v", tot)
	}
}

// TestReadOnlyFolder opens ledgers where the user may not write: a new file
// in a read-only folder, an existing file in a read-only folder, and a file
// whose folder cannot be created. Root may write anywhere, so as root the
// checks run in a child process as user nobody.
func TestReadOnlyFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("folder permissions work differently on Windows")
	}
	base, err := os.MkdirTemp("", "ledger-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(ro, "existing.db")
	l, err := Open(existing)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.Chmod(existing, 0o444)
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(ro, "new.db"),
		existing,
		filepath.Join(ro, "sub", "earnings.db"),
	}

	var out []string
	if os.Geteuid() != 0 {
		for _, p := range paths {
			_, err := Open(p)
			if err == nil {
				out = append(out, "ok")
			} else {
				out = append(out, fmt.Sprintf("noaccess=%v %s", errors.Is(err, ErrNoAccess), err))
			}
		}
	} else {
		out = runAsNobody(t, base, paths)
	}
	if len(out) != len(paths) {
		t.Fatalf("got %d results for %d paths: %q", len(out), len(paths), out)
	}
	for i, line := range out {
		t.Logf("%s: %s", paths[i], line)
		if !strings.HasPrefix(line, "noaccess=true could not open the earnings ledger: cannot ") ||
			!strings.Contains(line, "this user may write") {
			t.Errorf("%s: got %q, want a plain no-access error", paths[i], line)
		}
	}
}

// runAsNobody runs childOpen on paths as user nobody (65534) from a copy of
// the test binary that user can run, and returns its lines.
func runAsNobody(t *testing.T, base string, paths []string) []string {
	t.Helper()
	bin := filepath.Join(base, "ledger.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=open", childPathEnv+"="+strings.Join(paths, string(filepath.ListSeparator)))
	setNobody(cmd)
	outb, err := cmd.CombinedOutput()
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("cannot run the test binary as nobody here (a noexec temp folder?): %v", err)
	}
	if err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, outb)
	}
	return strings.Split(strings.TrimSpace(string(outb)), "\n")
}
