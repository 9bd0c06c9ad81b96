package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/diagnose"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/core/metrics"
	"usepod.ai/agent/core/telemetry"
	"usepod.ai/agent/core/version"
)

// logTailLines is how many log lines a support bundle carries.
const logTailLines = 500

// startOps starts what operators watch the running agent with: the
// Prometheus metrics (when [observability] prometheus_addr is set) and the
// state history support bundles carry. Both stop when ctx ends. It does
// not block.
func (a *agent) startOps(ctx context.Context) {
	go a.history.Follow(a.engine.Watch(ctx))
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
	go func() {
		if err := a.metrics.ServeListener(ctx, ln); err != nil {
			a.log.Error("the Prometheus metrics server stopped", "err", err)
		}
	}()
}

// newOpsMetrics builds the metrics registry for an agent; the engine's
// OnJobEnd is wired to it by newAgent.
func newOpsMetrics(a *agent) *metrics.Metrics {
	return metrics.New(metrics.Options{Snapshot: a.engine.Snapshot, GPUs: a.hardware.Latest})
}

// writeBundle writes a support bundle of this running agent to w: what the
// local API's POST /v1/diagnose answers.
func (a *agent) writeBundle(ctx context.Context, w io.Writer) error {
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
	in.LogTail, in.Notes = logTail(a.dataDir, in.Notes)
	return diagnose.Write(w, in)
}

func logTail(dataDir string, notes []string) ([]string, []string) {
	lines, err := diagnose.TailLines(filepath.Join(dataDir, "logs", "agent.log"), logTailLines)
	if err != nil {
		notes = append(notes, err.Error())
	}
	return lines, notes
}

func cmdDiagnose(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("diagnose")
	out := fs.String("out", "", "write the support bundle to this `FILE.zip`")
	api := fs.String("api", "", "the agent's local API `address` (default: this user's agent, else the system service)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if *out == "" {
		return c.usageError(errors.New("diagnose needs --out FILE.zip"))
	}
	if fs.NArg() > 0 {
		return c.usageError(fmt.Errorf("diagnose takes no arguments, got %q", fs.Arg(0)))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bundle, from, err := c.gatherBundle(ctx, *api)
	if err != nil {
		return c.fail(err)
	}
	if err := writeFilePrivate(*out, bundle); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Wrote the support bundle (%s) to %s. It holds no keys, codes or passwords.\n", from, *out)
	return exitOK
}

// gatherBundle asks the running agent for its bundle; when none runs it
// gathers one from the files (settings, log, ledger) and a fresh probe of
// the backends and GPUs.
func (c *cli) gatherBundle(ctx context.Context, explicitAPI string) (bundle []byte, from string, err error) {
	addr, err := c.apiAddress(explicitAPI)
	if err == nil && answers(addr) {
		client := localapi.NewClient(addr)
		defer client.Close()
		b, err := client.Diagnose(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("the running agent: %w", err)
		}
		return b, "from the running agent", nil
	}
	if explicitAPI != "" {
		return nil, "", fmt.Errorf("no agent answers at %s", explicitAPI)
	}
	var b bytes.Buffer
	if err := c.bundleFromFiles(ctx, &b); err != nil {
		return nil, "", err
	}
	return b.Bytes(), "from the files; no agent was running", nil
}

func (c *cli) bundleFromFiles(ctx context.Context, w io.Writer) error {
	cfgPath, dataDir, err := c.paths()
	if err != nil {
		return err
	}
	in := diagnose.Input{
		At:     time.Now(),
		Source: "the files of an agent that was not running",
		Build:  diagnose.CollectBuild(version.Version),
		System: diagnose.CollectSystem(ctx),
		Notes:  []string{"no agent was running: no status or state history"},
	}
	// A settings file with mistakes is still worth a look: load it without
	// validating, and say what is wrong.
	if f, err := config.LoadFile(cfgPath); err != nil {
		in.Notes = append(in.Notes, "settings: "+err.Error())
	} else {
		cfg := f.Config
		in.Config = &cfg
		if err := f.Validate(); err != nil {
			in.Notes = append(in.Notes, "settings: "+err.Error())
		}
		var servers []backend.Server
		for _, b := range cfg.Backends {
			servers = append(servers, backend.Server{Kind: b.Kind, URL: b.URL, APIKey: b.APIKey, Models: b.Models})
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		in.Backends = (&backend.Client{HTTP: &http.Client{}}).Discover(pctx, servers)
		cancel()
	}
	if s, ok := sampleOnce(ctx); ok {
		in.Hardware = &s
	}
	in.LogTail, in.Notes = logTail(dataDir, in.Notes)
	// Read the ledger only when there is one: opening creates it.
	if dbPath := filepath.Join(dataDir, "ledger.db"); fileExists(dbPath) {
		if led, err := ledger.Open(dbPath); err != nil {
			in.Notes = append(in.Notes, "earnings: "+err.Error())
		} else {
			if t, err := led.Totals(ctx, time.Now()); err == nil {
				in.Totals = &t
			} else {
				in.Notes = append(in.Notes, "earnings: "+err.Error())
			}
			led.Close()
		}
	}
	return diagnose.Write(w, in)
}

// sampleOnce reads the GPUs, CPU and memory once.
func sampleOnce(ctx context.Context) (telemetry.Sample, bool) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var got telemetry.Sample
	var ok bool
	telemetry.NewSampler(telemetry.Options{Interval: time.Hour, History: 1}).Run(ctx, func(s telemetry.Sample) {
		got, ok = s, true
		cancel()
	})
	return got, ok
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFilePrivate writes b to path readable by its owner only: a bundle
// holds no secrets, but it does hold the setup of this machine.
func writeFilePrivate(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write the support bundle: %w", err)
	}
	return nil
}
