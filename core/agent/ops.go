package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"usepod.ai/agent/core/diagnose"
	"usepod.ai/agent/core/version"
)

// logTailLines is how many log lines a support bundle carries.
const logTailLines = 500

// startOps starts what operators watch the running agent with: the state
// history support bundles carry, and the Prometheus metrics when
// [observability] prometheus_addr is set. Both stop when ctx ends; wg
// waits for them. It does not block.
func (a *Agent) startOps(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { a.history.Follow(a.engine.Watch(ctx)) })
	addr := a.engine.Config().Observability.PrometheusAddr
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// Metrics are for watching; an agent that cannot serve them still earns.
		a.log.Error("cannot serve Prometheus metrics at [observability] prometheus_addr; the agent runs on without them",
			"address", addr, "err", err)
		return
	}
	a.log.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	wg.Go(func() {
		if err := a.metrics.ServeListener(ctx, ln); err != nil {
			a.log.Error("the Prometheus metrics server stopped", "err", err)
		}
	})
}

// writeBundle writes a support bundle of this running agent to w: what the
// local API's POST /v1/diagnose answers.
func (a *Agent) writeBundle(ctx context.Context, w io.Writer) error {
	snap := a.engine.Snapshot()
	cfg := a.engine.Config()
	in := diagnose.Input{
		At:           time.Now(),
		Source:       fmt.Sprintf("the running agent (pid %d)", os.Getpid()),
		Build:        diagnose.CollectBuild(version.Version),
		System:       diagnose.CollectSystem(ctx),
		Status:       &snap,
		Backends:     a.engine.Backends(),
		Config:       &cfg,
		StateHistory: a.history.Changes(),
	}
	if s, ok := a.hardware.Latest(); ok {
		in.Hardware = &s
	} else {
		in.Notes = append(in.Notes, "no hardware reading yet")
	}
	if t, err := a.ledger.Totals(ctx, time.Now()); err == nil {
		in.Totals = &t
	} else {
		in.Notes = append(in.Notes, "earnings: "+err.Error())
	}
	in.LogTail, in.Notes = logTail(a.o.DataDir, in.Notes)
	return diagnose.Write(w, in)
}

func logTail(dataDir string, notes []string) ([]string, []string) {
	lines, err := diagnose.TailLines(filepath.Join(dataDir, "logs", "agent.log"), logTailLines)
	if err != nil {
		notes = append(notes, err.Error())
	}
	return lines, notes
}
