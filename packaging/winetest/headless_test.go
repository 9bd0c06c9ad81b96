//go:build wine

package winetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The .exe starts at all: the Go runtime loads under wine (with the
// stand-in DLL) and prints the version stamped in by package-windows.
func TestVersion(t *testing.T) {
	out := mustRun(t, "", "version")
	if !regexp.MustCompile(`^usepod-agent \d+\.\d+\.\d+`).MatchString(out) {
		t.Fatalf("version printed %q, want usepod-agent X.Y.Z", out)
	}
	if strings.Contains(out, "-dev") {
		t.Errorf("version printed %q: the packaged .exe should carry the release version, not a -dev one", out)
	}
	step(t, "the packaged .exe starts under wine and says %q", strings.TrimSpace(out))
}

// The headless agent, with its key in the Windows Credential Manager and
// then in a key file: it connects to the local coordinator, serves a job
// from the replayed llama.cpp server, answers `status --json` over its
// named pipe, records the earning; `identity` then names the same key and
// where it is kept, and a second start authenticates with the same key.
func TestHeadlessServesAndKeepsKey(t *testing.T) {
	for _, tc := range []struct {
		keyring, where string
	}{
		{"system", "Windows Credential Manager"},
		{"file", "identity.key"},
	} {
		t.Run(tc.keyring, func(t *testing.T) {
			backend := startReplayBackend(t)
			coord, coordURL := startCoordinator(t)
			cfg := winPath(writeConfig(t, backend))
			data := winPath(t.TempDir())
			run := []string{"--config", cfg, "--data-dir", data, "run", "--headless",
				"--coordinator", coordURL, "--allow-insecure", "--enrollment-code", "POD-ENROLL-WINE0001", "--keyring", tc.keyring}

			began := time.Now()
			agent := startExe(t, "", run...)
			p := waitProvider(t, coord)
			serveOneJob(t, p, "wine-"+tc.keyring+"-1")
			agent.waitOutput(t, stateIs("earning"), "state=earning")
			step(t, "--keyring %s: the .exe connected, authenticated and served a job in %v", tc.keyring, time.Since(began).Round(time.Millisecond))

			// The local API over the named pipe \\.\pipe\usepod-agent-<SID>.
			var st struct {
				State    string `json:"state"`
				Earnings struct {
					TodayJobs int64 `json:"today_jobs"`
				} `json:"earnings"`
			}
			out := mustRun(t, "", "--config", cfg, "--data-dir", data, "status", "--json")
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json is not JSON: %v\n%s", err, out)
			}
			if st.State == "" {
				t.Fatalf("status --json has no state: %s", out)
			}
			step(t, "`status --json` reached the running agent over its named pipe: state %q", st.State)

			var e struct {
				Jobs           int64 `json:"jobs"`
				TodayMicroUSDC int64 `json:"today_micro_usdc"`
			}
			deadline := time.Now().Add(wait)
			for {
				out = mustRun(t, "", "--data-dir", data, "earnings", "--json")
				if err := json.Unmarshal([]byte(out), &e); err != nil {
					t.Fatalf("earnings --json is not JSON: %v\n%s", err, out)
				}
				if e.Jobs == 1 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if e.Jobs != 1 || e.TodayMicroUSDC <= 0 {
				t.Fatalf("earnings after one job: %s", out)
			}
			step(t, "`earnings --json` read the SQLite ledger: %d job, %d micro-USDC today", e.Jobs, e.TodayMicroUSDC)

			// Stop it (wine has no console to send Ctrl+C to: kill) and read
			// the identity back from where it was kept.
			agent.cmd.Process.Kill()
			<-agent.done
			out = mustRun(t, "", "--config", cfg, "--data-dir", data, "identity", "--keyring", tc.keyring)
			if !strings.Contains(out, "Public key:  "+p.PubKey) {
				t.Fatalf("identity printed %q, want the public key the coordinator saw, %s", out, p.PubKey)
			}
			if !strings.Contains(out, tc.where) {
				t.Fatalf("identity printed %q, want it kept in %s", out, tc.where)
			}
			if tc.keyring == "system" {
				// The key must not have fallen back to a file.
				if _, err := os.Stat(filepath.Join(strings.TrimPrefix(strings.ReplaceAll(data, `\`, "/"), "Z:"), "identity.key")); err == nil {
					t.Error("--keyring system left an identity.key file in the data folder")
				}
			}
			step(t, "--keyring %s: `identity` names the same public key, kept in %s", tc.keyring, tc.where)

			again := startExe(t, "", run...)
			p2 := waitProvider(t, coord)
			if p2.PubKey != p.PubKey {
				t.Fatalf("the second start authenticated with key %s, want the kept %s", p2.PubKey, p.PubKey)
			}
			again.cmd.Process.Kill()
			step(t, "--keyring %s: a second start authenticated with the kept key", tc.keyring)
		})
	}
}

// `service install --print` prints the definition `service install` would
// register, without installing: the registry key and a command line that
// Windows splits into this .exe and the service's flags.
func TestServiceInstallPrint(t *testing.T) {
	out := mustRun(t, "", "service", "install", "--print")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("service install --print printed %d lines, want the key and the command line:\n%s", len(lines), out)
	}
	if want := `# HKLM\SYSTEM\CurrentControlSet\Services\UsePodAgent`; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	// The path has no spaces here, so the command line splits on them.
	args := strings.Fields(lines[1])
	exe := winPath(env.exe)
	if len(args) == 0 || args[0] != exe {
		t.Fatalf("the command line %q does not start with this .exe, %s", lines[1], exe)
	}
	want := []string{"--config", `C:\ProgramData\UsePodAgent\agent.toml`, "--data-dir", `C:\ProgramData\UsePodAgent`,
		"run", "--headless", "--keyring", "file", "--api", `\\.\pipe\usepod-agent-service`}
	if got := args[1:]; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("service arguments %q, want %q", got, want)
	}
	step(t, "`service install --print` printed the service key and the command line %s", lines[1])
}
