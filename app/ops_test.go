package app

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/diagnose"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
	"usepod.ai/agent/internal/testrig/writers"
)

// The secrets of the setup. No support bundle may hold any of them.
const (
	opsCode     = "POD-ENROLL-OPSSECRET77"
	opsAPIKey   = "sk-ops-backend-key-19f2e"
	opsPassword = "ops-url-password-c81d"
)

// TestHeadlessMetricsAndSupportBundles runs the headless agent in-process
// against the local coordinator and a replayed llama.cpp server, with a
// setup full of secrets: it serves real jobs, /metrics counts them, and a
// support bundle from the running agent and one from the files alone hold
// none of the secrets, nor the identity key.
func TestHeadlessMetricsAndSupportBundles(t *testing.T) {
	llama := replay.LlamaCpp(t)
	coord, coordURL := localCoordinator(t, opsCode)
	dir := t.TempDir() // the bundles
	metricsAddr := freeAddr(t)
	backendURL := strings.Replace(llama.URL, "http://", "http://ops:"+opsPassword+"@", 1)
	cfg := fmt.Sprintf(`[coordinator]
url = %q
enrollment_code = %q
allow_insecure = true

[identity]
keyring = "file"

[[backends]]
kind = "llamacpp"
url = %q
api_key = %q

[observability]
prometheus_addr = %q
`, coordURL, opsCode, backendURL, opsAPIKey, metricsAddr)
	agent := startInProcessAgent(t, cfg)
	global, dataDir, sock, stop, stderr := agent.global, agent.dataDir, agent.sock, agent.stop, agent.stderr

	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	p, err := coord.Next(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.WaitCapabilities(wctx, 0); err != nil {
		t.Fatal(err)
	}
	const jobs = 2
	for i := range jobs {
		res, err := p.Dispatch(wctx, localcoord.JobRequest{JobID: fmt.Sprintf("ops-%d", i), ModelID: "tiny",
			Request: map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "max_tokens": 8}})
		if err != nil || res.Done == nil {
			t.Fatalf("job %d: %v %s", i, err, res.Terminal.Raw)
		}
	}

	// The metrics count what was served and name the backend without its password.
	body := get(t, "http://"+metricsAddr+"/metrics")
	for _, line := range []string{
		fmt.Sprintf(`usepod_agent_jobs_total{backend="llamacpp",model="tiny",outcome="done"} %d`, jobs),
		`usepod_agent_session_up 1`,
		`usepod_agent_models_offered 1`,
		fmt.Sprintf(`usepod_agent_backend_up{backend="llamacpp",url="http://ops@%s"} 1`, strings.TrimPrefix(llama.URL, "http://")),
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	id, err := (&identity.FileStore{Path: filepath.Join(dataDir, identity.KeyFileName)}).Load(wctx)
	if err != nil {
		t.Fatalf("the agent's key file: %v", err)
	}
	seed := id.Private.Seed()
	secrets := []string{opsCode, opsAPIKey, opsPassword,
		base64.StdEncoding.EncodeToString(seed), base64.RawStdEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(id.Private), hex.EncodeToString(seed)}

	// From the running agent, through the local API.
	live := filepath.Join(dir, "live.zip")
	if code, out, errOut := run(t, append(global, "diagnose", "--out", live, "--api", sock)...); code != 0 || !strings.Contains(out, "from the running agent") {
		t.Fatalf("diagnose: exit %d, %q %q", code, out, errOut)
	}
	files := readZip(t, live)
	diagnose.AssertNoSecrets(t, files, secrets)
	for name, want := range map[string]string{
		"status.json":        `"state": "earning"`,
		"state-history.json": `"state": "earning"`, // states between are coalesced when jobs follow at once
		"earnings.json":      fmt.Sprintf(`"jobs": %d`, jobs),
		"backends.json":      `"has_api_key": true`,
		"config.toml":        "prometheus_addr",
		"agent.log":          "connected to the coordinator",
		"build.json":         `"go_version"`,
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("live bundle %s lacks %q:\n%s", name, want, files[name])
		}
	}

	if code := stop(); code != 0 {
		t.Fatalf("exit %d after stop; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving Prometheus metrics") {
		t.Error("the agent did not log where it serves metrics")
	}

	// With no agent running: from the files.
	offline := filepath.Join(dir, "offline.zip")
	if code, out, errOut := run(t, append(global, "diagnose", "--out", offline)...); code != 0 || !strings.Contains(out, "no agent was running") {
		t.Fatalf("diagnose without an agent: exit %d, %q %q", code, out, errOut)
	}
	files = readZip(t, offline)
	diagnose.AssertNoSecrets(t, files, secrets)
	for name, want := range map[string]string{
		"earnings.json": fmt.Sprintf(`"jobs": %d`, jobs),
		"backends.json": `"healthy": true`,
		"config.toml":   "[redacted]",
		"agent.log":     "stopped",
		"README.txt":    "no agent was running",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("offline bundle %s lacks %q:\n%s", name, want, files[name])
		}
	}
}

func TestMetricsBindFailureDoesNotStopTheAgent(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.toml")
	cfg := fmt.Sprintf("[coordinator]\nurl = \"ws://127.0.0.1:9/provider/connect\"\nallow_insecure = true\n[identity]\nkeyring = \"file\"\n[observability]\nprometheus_addr = %q\n", busy.Addr().String())
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr writers.Locked
	exited := make(chan int, 1)
	go func() {
		exited <- Run(ctx, []string{"--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "run", "--headless", "--api", filepath.Join(dir, "s.sock")}, io.Discard, &stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "cannot serve Prometheus metrics") {
		if time.Now().After(deadline) {
			t.Fatalf("no plain-words log line about the busy metrics address:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The agent runs on: its local API answers after the failure was logged.
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if _, err := localapi.NewClient(filepath.Join(dir, "s.sock")).Status(sctx); err != nil {
		select {
		case code := <-exited:
			t.Fatalf("the agent exited (%d) over a metrics address", code)
		default:
			t.Fatalf("the agent does not answer after the metrics address failed: %v", err)
		}
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func readZip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer zr.Close()
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	return files
}

func TestEnrollmentCodeFromTheEnvironment(t *testing.T) {
	coord := localcoord.New(localcoord.Options{EnrollmentCodes: []string{"POD-ENROLL-FROMENV001"}})
	hs := httptest.NewServer(coord.Handler())
	t.Cleanup(hs.Close)
	t.Setenv(enrollmentCodeEnv, "POD-ENROLL-FROMENV001")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- Run(ctx, []string{"--data-dir", filepath.Join(dir, "data"), "--config", filepath.Join(dir, "agent.toml"),
			"run", "--headless", "--keyring", "file", "--allow-insecure", "--api", filepath.Join(dir, "s.sock"),
			"--coordinator", "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"}, io.Discard, io.Discard)
	}()
	wctx, wcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer wcancel()
	p, err := coord.Next(wctx)
	cancel()
	<-exited
	if err != nil {
		t.Fatal(err)
	}
	if p.EnrollmentCode != "POD-ENROLL-FROMENV001" {
		t.Fatal("the enrollment code in the environment was not sent")
	}
	if _, err := os.Stat(filepath.Join(dir, "agent.toml")); err == nil {
		t.Fatal("the code from the environment was saved to a settings file")
	}
}
