package app

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
)

func TestEnrollmentCodeSources(t *testing.T) {
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "code")
	os.WriteFile(codeFile, []byte("  POD-ENROLL-FILE0001\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == enrollmentCodeEnv {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		rf        runFlags
		env       string
		want      string
		onCmdLine bool
		err       string
	}{
		{name: "flag", rf: runFlags{enrollmentCode: " POD-ENROLL-FLAG0001 "}, env: "POD-ENROLL-ENV00001", want: "POD-ENROLL-FLAG0001", onCmdLine: true},
		{name: "file", rf: runFlags{codeFile: codeFile}, env: "POD-ENROLL-ENV00001", want: "POD-ENROLL-FILE0001"},
		{name: "environment", env: " POD-ENROLL-ENV00001\n", want: "POD-ENROLL-ENV00001"},
		{name: "none", want: ""},
		{name: "flag and file", rf: runFlags{enrollmentCode: "POD-ENROLL-FLAG0001", codeFile: codeFile}, err: "not both"},
		{name: "missing file", rf: runFlags{codeFile: filepath.Join(dir, "nope")}, err: "read the enrollment code file"},
		{name: "empty file", rf: runFlags{codeFile: empty}, err: "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rf := tc.rf
			err := rf.resolveEnrollmentCode(env(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || rf.enrollmentCode != tc.want || rf.codeOnCmdLine != tc.onCmdLine {
				t.Fatalf("code %q cmdline %v err %v; want %q %v", rf.enrollmentCode, rf.codeOnCmdLine, err, tc.want, tc.onCmdLine)
			}
		})
	}
}

// runHeadlessAgent runs `run --headless` in-process against coord with
// args added, until the coordinator sees it; it returns the provider and a
// stop function that ends the run and returns its exit code.
func runHeadlessAgent(t *testing.T, coord *localcoord.Server, dataDir string, args ...string) (*localcoord.Provider, func() int) {
	t.Helper()
	hs := httptest.NewServer(coord.Handler())
	t.Cleanup(hs.Close)
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	full := append([]string{"--data-dir", dataDir, "--config", filepath.Join(dataDir, "agent.toml"),
		"run", "--headless", "--coordinator", url, "--allow-insecure", "--keyring", "file"}, args...)
	var out, errb strings.Builder
	go func() { done <- Run(ctx, full, &out, &errb) }()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	p, err := coord.Next(wctx)
	if err != nil {
		cancel()
		t.Fatalf("the agent never connected: %v (exit %d, stderr %q)", err, <-done, errb.String())
	}
	return p, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("the agent did not stop")
			return -1
		}
	}
}

// The code given through a file or the environment reaches the coordinator
// and never the saved settings.
func TestEnrollmentCodeFromFileAndEnvironment(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		codeFile := filepath.Join(t.TempDir(), "code")
		os.WriteFile(codeFile, []byte("POD-ENROLL-FILE0001\n"), 0o600)
		p, stop := runHeadlessAgent(t, localcoord.New(localcoord.Options{}), dir, "--enrollment-code-file", codeFile)
		if p.EnrollmentCode != "POD-ENROLL-FILE0001" {
			t.Errorf("coordinator got code %q", p.EnrollmentCode)
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "agent.toml")); strings.Contains(string(b), "POD-ENROLL") {
			t.Fatal("the code from the file was saved in the settings")
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(enrollmentCodeEnv, "POD-ENROLL-ENV00001")
		p, stop := runHeadlessAgent(t, localcoord.New(localcoord.Options{}), t.TempDir())
		if p.EnrollmentCode != "POD-ENROLL-ENV00001" {
			t.Errorf("coordinator got code %q", p.EnrollmentCode)
		}
		if _, set := os.LookupEnv(enrollmentCodeEnv); set {
			t.Error("the variable stayed in the environment, for child processes to inherit")
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
}

// Everything the agent writes in its data folder is the owner's only, even
// with umask 0 in a folder the user made 0755.
func TestDataFolderFilesAreOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no mode bits; the folder's ACL decides")
	}
	defer setUmask(0)()
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o755)
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "logs", "agent.log"), []byte("old line\n"), 0o644)
	_, stop := runHeadlessAgent(t, localcoord.New(localcoord.Options{}), dir, "--enrollment-code", "POD-ENROLL-TEST0001")
	defer stop()
	if st, err := os.Stat(filepath.Join(dir, "logs")); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o700 {
		t.Errorf("logs folder has mode %04o, want 0700", st.Mode().Perm())
	}
	for _, name := range []string{"ledger.db", "ledger.db-wal", "ledger.db-shm", "identity.key", "logs/agent.log"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, st.Mode().Perm())
		}
	}
}

// A ledger that cannot be opened leaves the agent running and saying so.
func TestRunWithALedgerThatCannotOpen(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "ledger.db"), 0o700) // a folder where the file should be
	_, stop := runHeadlessAgent(t, localcoord.New(localcoord.Options{}), dir, "--enrollment-code", "POD-ENROLL-TEST0001")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
	if !strings.Contains(string(logs), "the earnings ledger cannot be opened") {
		t.Fatalf("the log does not say the ledger cannot be opened:\n%s", logs)
	}
}
