//go:build linux && !nogui

package app

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/writers"
)

// statusJSON is the part of `status --json` the tests read.
type statusJSON struct {
	State        string `json:"state"`
	JobsInFlight int    `json:"jobs_in_flight"`
	PID          int    `json:"pid"`
	Models       []struct {
		ModelID string `json:"model_id"`
		Backend string `json:"backend"`
		Enabled bool   `json:"enabled"`
	} `json:"models"`
}

// The terminal controls a running headless agent through its local API:
// status says what it does, pause empties its offer and closes the session,
// resume brings the models back; a second agent on the same data folder is
// refused; with no agent, each command says so in one line and exits 1.
func TestStatusPauseResumeControlTheRunningAgent(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	s := newHeadlessSession(t, backend)

	// No agent yet.
	for _, cmd := range []string{"status", "pause", "resume"} {
		code, out, errOut := s.cli(t, agent, cmd)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not running") {
			t.Errorf("%s with no agent: exit %d, stdout %q, stderr %q; want exit 1 and one line saying it is not running", cmd, code, out, errOut)
		}
	}

	app := s.runHeadless(t, agent, coordURL)
	p, caps, i := waitProvider(t, coord)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny"}) {
		t.Fatalf("the agent offers %v, want [tiny]", got)
	}
	app.waitOutput(t, stateIs("waiting for jobs"), "state=waiting for jobs")

	st := s.status(t, agent)
	if st.State != "waiting for jobs" || st.PID != app.cmd.Process.Pid || st.JobsInFlight != 0 {
		t.Errorf("status = %+v, want state %q, pid %d, no jobs", st, "waiting for jobs", app.cmd.Process.Pid)
	}
	if len(st.Models) != 1 || st.Models[0].ModelID != "tiny" || st.Models[0].Backend != "llamacpp" || !st.Models[0].Enabled {
		t.Errorf("status models = %+v, want tiny on llamacpp, enabled", st.Models)
	}

	// A second agent for the same data folder is refused before it opens the key.
	second := exec.Command(agent, "--config", s.config, "--data-dir", s.data, "run", "--headless",
		"--coordinator", coordURL, "--allow-insecure", "--keyring", "file")
	second.Env = s.env()
	out, err := second.CombinedOutput()
	if code := second.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "already running") {
		t.Errorf("a second agent: exit %d, output %q; want exit 1 saying one is already running", code, out)
	}

	if code, out, errOut := s.cli(t, agent, "pause"); code != 0 {
		t.Fatalf("pause: exit %d, %q %q", code, out, errOut)
	}
	caps, _ = waitCapabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Errorf("after pause the agent offers %v, want nothing", caps.ModelIDs())
	}
	app.waitOutput(t, stateIs("paused"), "state=paused")
	if st := s.status(t, agent); st.State != "paused" {
		t.Errorf("status after pause = %q, want paused", st.State)
	}

	if code, out, errOut := s.cli(t, agent, "resume"); code != 0 {
		t.Fatalf("resume: exit %d, %q %q", code, out, errOut)
	}
	p2, caps, _ := waitProvider(t, coord)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny"}) {
		t.Errorf("after resume the agent offers %v, want [tiny]", got)
	}
	_ = p2

	if code := app.stopAndWait(t, 30*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if got, want := states(app.out.String()), []string{"waiting for jobs", "paused", "waiting for jobs"}; !inOrder(got, want) {
		t.Errorf("states logged %q, want %q in that order", got, want)
	}
}

// headlessSession is a home, config and data folder for a headless agent.
type headlessSession struct{ desktopSession }

func newHeadlessSession(t *testing.T, backendURL string) *headlessSession {
	t.Helper()
	s := &headlessSession{desktopSession{home: t.TempDir(), data: t.TempDir()}}
	s.config = writeBackendConfig(t, backendURL)
	return s
}

// runHeadless starts `usepod-agent run --headless` against coordURL.
func (s *headlessSession) runHeadless(t *testing.T, agent, coordURL string) *proc {
	t.Helper()
	cmd := exec.Command(agent, "--config", s.config, "--data-dir", s.data, "run", "--headless",
		"--coordinator", coordURL, "--allow-insecure", "--enrollment-code", "POD-ENROLL-E2E00001", "--keyring", "file")
	cmd.Env = s.env()
	return start(t, "usepod-agent --headless", cmd, syscall.SIGKILL)
}

// cli runs one command of the agent on the session's data folder.
func (s *desktopSession) cli(t *testing.T, agent string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(agent, append([]string{"--data-dir", s.data}, args...)...)
	cmd.Env = s.env()
	var out, errb writers.Locked
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s %v: %v", agent, args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// status runs `status --json`.
func (s *desktopSession) status(t *testing.T, agent string) statusJSON {
	t.Helper()
	code, out, errOut := s.cli(t, agent, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	return st
}
