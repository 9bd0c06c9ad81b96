package agent

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/diagnose"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/telemetry"
	"usepod.ai/agent/core/version"
)

// WriteOfflineBundle writes the support bundle of an agent that is not
// running: from its files (settings, log, ledger) and a fresh probe of the
// inference servers and GPUs. `usepod-agent diagnose` uses it when no agent
// answers.
func WriteOfflineBundle(ctx context.Context, w io.Writer, cfgPath, dataDir string) error {
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
