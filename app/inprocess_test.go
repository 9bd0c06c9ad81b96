package app

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/writers"
)

// inProcessAgent is `usepod-agent run --headless` running in the test
// process, with a settings file of the test's and a data folder of its own.
type inProcessAgent struct {
	global  []string        // --config and --data-dir: other commands on the same agent
	dataDir string          // its data folder
	sock    string          // its local API
	stderr  *writers.Locked // its log
	stop    func() int      // ends it and returns its exit code (the same code when called again)
}

// startInProcessAgent writes config as the settings file and starts the
// agent; the test's end stops it.
func startInProcessAgent(t *testing.T, config string) *inProcessAgent {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &inProcessAgent{dataDir: filepath.Join(dir, "data"), sock: filepath.Join(dir, "api.sock"), stderr: &writers.Locked{}}
	a.global = []string{"--config", cfgPath, "--data-dir", a.dataDir}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- Run(ctx, append(slices.Clone(a.global), "run", "--headless", "--api", a.sock), io.Discard, a.stderr)
	}()
	var once sync.Once
	var code int
	a.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-exited:
			case <-time.After(30 * time.Second):
				t.Error("the agent did not stop")
				code = -1
			}
		})
		return code
	}
	t.Cleanup(func() { a.stop() })
	return a
}

// localCoordinator serves a local coordinator that accepts the enrollment
// code and returns its ws:// URL.
func localCoordinator(t *testing.T, code string) (*localcoord.Server, string) {
	t.Helper()
	coord := localcoord.New(localcoord.Options{EnrollmentCodes: []string{code}})
	hs := httptest.NewServer(coord.Handler())
	t.Cleanup(hs.Close)
	return coord, "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
}
