//go:build linux && !nogui

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// standInSMI writes an nvidia-smi that answers the agent's queries from
// files in dir, the way the real one formats them: --query-gpu lists the
// asked columns in order, one value per file under dir/gpu/ ("[N/A]" when
// there is none), --query-compute-apps prints dir/apps.csv. With noheader
// it leaves the header out; without nounits it keeps the values as they
// are. The files start as the H200's idle recording.
func standInSMI(t *testing.T) (binDir, dataDir string) {
	t.Helper()
	binDir, dataDir = t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(dataDir, "gpu"), 0o755)
	idle := map[string]string{ // smi_idle.csv, by column
		"index": "0", "name": "NVIDIA H200", "uuid": "GPU-b64c4e21-11fb-4df1-2581-eec7aacfceee",
		"driver_version": "580.159.04", "utilization.gpu": "0", "utilization.memory": "0",
		"memory.used": "0", "memory.total": "143771", "temperature.gpu": "38", "power.draw": "125.73",
		"power.limit": "700.00", "clocks.sm": "1980", "pstate": "P0",
	}
	for k, v := range idle {
		writeFile(t, filepath.Join(dataDir, "gpu", k), v)
	}
	writeFile(t, filepath.Join(dataDir, "apps.csv"), "") // smi_apps.csv with noheader: nothing
	script := `#!/bin/sh
D=` + dataDir + `
q=""; fmt=""
for a in "$@"; do
  case "$a" in
    --query-gpu=*) q="${a#--query-gpu=}" ;;
    --query-compute-apps=*) apps=1 ;;
    --format=*) fmt="${a#--format=}" ;;
  esac
done
echo "$*" >> "$D/queries"
if [ -n "$apps" ]; then
  case "$fmt" in *noheader*) ;; *) echo "pid, process_name, used_gpu_memory [MiB]" ;; esac
  cat "$D/apps.csv"; exit 0
fi
[ -n "$q" ] || { echo "stand-in nvidia-smi: unsupported: $*"; exit 2; }
line=""
for c in $(echo "$q" | tr ',' ' '); do
  if [ -f "$D/gpu/$c" ]; then v=$(cat "$D/gpu/$c"); else v="[N/A]"; fi
  line="${line:+$line, }$v"
done
case "$fmt" in *noheader*) ;; *) echo "$q" | sed 's/,/, /g' ;; esac
echo "$line"
`
	path := filepath.Join(binDir, "nvidia-smi")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return binDir, dataDir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil { // never half a file to the agent
		t.Fatal(err)
	}
}

// TestHeadlessStepsAsideForGPUAndSchedule runs the headless agent with a
// stand-in nvidia-smi first on PATH against the local coordinator: a
// foreign compute process (smi_apps_load.csv's python3) takes the models
// away within 10 s and they come back after resume_after; a temperature
// over max_gpu_temp_c lowers max_concurrent, and it comes back once the GPU
// has cooled; status --json says why each time. A schedule that excludes
// now offers nothing from the start.
func TestHeadlessStepsAsideForGPUAndSchedule(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	binDir, smi := standInSMI(t)
	s := newHeadlessSession(t, backend)
	writeFile(t, s.config, fmt.Sprintf("[limits]\nmax_concurrent = 2\n\n[earning]\nresume_after = \"3s\"\nmax_gpu_temp_c = 83\n\n[[backends]]\nkind = \"llamacpp\"\nurl = %q\n", backend))
	s.pathPrefix = binDir

	app := s.runHeadless(t, agent, coordURL)
	p, caps, i := waitProvider(t, coord)
	if len(caps.Models) != 1 || caps.Models[0].MaxConcurrent != 2 {
		t.Fatalf("first offer: %+v", caps)
	}
	app.waitOutput(t, stateIs("waiting for jobs"), "state=waiting for jobs")

	// A foreign process appears (the recording's python3 under load).
	load, err := os.ReadFile("../../shared/fixtures/real/nvidia/smi_apps_load.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.SplitN(string(load), "\n", 2)[1] // noheader: the rows only
	rows = strings.ReplaceAll(rows, " MiB", "")      // nounits
	appeared := time.Now()
	writeFile(t, filepath.Join(smi, "apps.csv"), rows)
	caps, i = waitCapabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("with python3 on the GPU the agent offers %v", caps.ModelIDs())
	}
	if d := time.Since(appeared); d > 10*time.Second {
		t.Errorf("the agent stepped aside after %v, want within 10 s", d)
	}
	if st := policyStatus(t, s, agent); !strings.Contains(st.Reason, "python3 uses the GPU") || st.State != "waiting for jobs" {
		t.Errorf("status while python3 runs: %+v", st)
	}

	// It goes: the models come back once resume_after (3 s) has passed.
	writeFile(t, filepath.Join(smi, "apps.csv"), "")
	gone := time.Now()
	caps, i = waitCapabilities(t, p, i+1)
	if len(caps.Models) != 1 {
		t.Fatalf("after python3 closed the agent offers %v", caps.ModelIDs())
	}
	if d := time.Since(gone); d < 3*time.Second || d > 15*time.Second {
		t.Errorf("models came back %v after python3 closed, want after resume_after (3 s), within a sample", d)
	}

	// Too hot: fewer jobs at a time.
	writeFile(t, filepath.Join(smi, "gpu", "temperature.gpu"), "88")
	caps, i = waitCapabilities(t, p, i+1)
	if len(caps.Models) != 1 || caps.Models[0].MaxConcurrent != 1 || caps.Limits.MaxConcurrentTotal != 1 {
		t.Fatalf("hot GPU: offered %+v", caps)
	}
	if st := policyStatus(t, s, agent); st.Reason != "Cooling down: GPU at 88 °C, 1 of 2 jobs at a time" {
		t.Errorf("status while hot: %+v", st)
	}
	// Back under (by the margin): restored after a minute under the limit.
	writeFile(t, filepath.Join(smi, "gpu", "temperature.gpu"), "60")
	caps, _ = waitCapabilitiesWithin(t, p, i+1, 90*time.Second)
	if len(caps.Models) != 1 || caps.Models[0].MaxConcurrent != 2 || caps.Limits.MaxConcurrentTotal != 2 {
		t.Fatalf("cooled GPU: offered %+v", caps)
	}
	if st := policyStatus(t, s, agent); st.Reason != "" {
		t.Errorf("status once cooled: %+v", st)
	}
	queries, _ := os.ReadFile(filepath.Join(smi, "queries"))
	if !strings.Contains(string(queries), "--query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits") {
		t.Errorf("the agent never asked for compute apps: %s", queries)
	}
	if code := app.stopAndWait(t, 30*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d", code)
	}

	// A schedule that excludes now: connected, no models, and why.
	now := time.Now()
	from, to := now.Add(2*time.Hour), now.Add(3*time.Hour)
	window := fmt.Sprintf("%s-%s", from.Format("15:04"), to.Format("15:04"))
	writeFile(t, s.config, fmt.Sprintf("[earning]\nschedule = [%q]\n\n[[backends]]\nkind = \"llamacpp\"\nurl = %q\n", window, backend))
	app = s.runHeadless(t, agent, coordURL)
	_, caps, _ = waitProvider(t, coord)
	if len(caps.Models) != 0 {
		t.Fatalf("outside the schedule %q the agent offers %v", window, caps.ModelIDs())
	}
	if st := policyStatus(t, s, agent); st.Reason != "Outside your earning hours — back at "+from.Format("15:04") {
		t.Errorf("status outside the schedule: %+v", st)
	}
	app.stopAndWait(t, 30*time.Second)
}

type policyStatusJSON struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func policyStatus(t *testing.T, s *headlessSession, agent string) policyStatusJSON {
	t.Helper()
	// The snapshot follows the offer within a moment.
	var st policyStatusJSON
	for range 20 {
		code, out, errOut := s.cli(t, agent, "status", "--json")
		if code != 0 {
			t.Fatalf("status --json: exit %d: %s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if st.Reason != "" {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	return st
}

// waitCapabilitiesWithin is waitCapabilities with a longer wait.
func waitCapabilitiesWithin(t *testing.T, p *localcoord.Provider, from int, limit time.Duration) (localcoord.Capabilities, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	c, i, err := p.WaitCapabilities(ctx, from)
	if err != nil {
		t.Fatalf("wait for capabilities: %v", err)
	}
	return c, i
}
