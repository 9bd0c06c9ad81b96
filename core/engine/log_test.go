package engine

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
	"usepod.ai/agent/internal/testrig/writers"
)

var componentAttr = regexp.MustCompile(`component=(\S+)`)

// Given a plain logger, every line the engine and the parts it builds log
// carries exactly one component attribute: the engine adds its own, and
// the coordinator session, the backend client and the jobs manager each
// add theirs, never on top of the engine's (STYLE: each component adds its
// own; the caller never adds it for it).
func TestLogLinesCarryOneComponent(t *testing.T) {
	logs := &writers.Locked{}
	h := newHarness(t, localcoord.Options{EnrollmentCodes: []string{testCode}}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}))
	p := h.provider()
	capabilities(t, p, 0)
	// The session logs a frame type it does not know (at debug), and the
	// jobs manager a job for a model nobody serves, before its job_error
	// goes out. The session reads frames in order, so both are logged
	// when the job_error is back.
	if err := p.Send(ctxT(t), map[string]string{"type": "config_update"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "job-nobody-serves", ModelID: "nobody-serves-this", Request: chatRequest()}); err != nil {
		t.Fatal(err)
	}
	h.stop()

	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		m := componentAttr.FindAllStringSubmatch(line, -1)
		if len(m) != 1 {
			t.Errorf("%d component attributes in %q, want one", len(m), line)
			continue
		}
		seen[m[0][1]] = true
	}
	for _, c := range []string{"engine", "coordinator", "backend", "jobs"} {
		if !seen[c] {
			t.Errorf("no line from component=%s; saw %v", c, seen)
		}
	}
}
