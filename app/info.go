package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/ledger"
)

// earningsJSON is the shape of `earnings --json`. Amounts are micro-USDC
// (USDC base units: 1 USDC = 1,000,000).
type earningsJSON struct {
	TotalMicroUSDC  int64               `json:"total_micro_usdc"`
	TodayMicroUSDC  int64               `json:"today_micro_usdc"`
	Last7dMicroUSDC int64               `json:"last_7d_micro_usdc"`
	Jobs            int64               `json:"jobs"`
	TodayJobs       int64               `json:"today_jobs"`
	Models          []modelEarningsJSON `json:"models"`
	// PendingJobs finished while the ledger could not be written; they are
	// not in the totals yet.
	PendingJobs int    `json:"pending_jobs"`
	Note        string `json:"note"`
}

type modelEarningsJSON struct {
	Model          string `json:"model"`
	Jobs           int64  `json:"jobs"`
	TotalMicroUSDC int64  `json:"total_micro_usdc"`
	TodayJobs      int64  `json:"today_jobs"`
	TodayMicroUSDC int64  `json:"today_micro_usdc"`
}

const estimateNote = "estimate from this agent's own ledger; the coordinator's settlement is what gets paid"

func cmdEarnings(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("earnings")
	asJSON := fs.Bool("json", false, "print JSON")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return c.fail(err)
	}
	path := filepath.Join(dataDir, "ledger.db")
	pending := ledger.JournalPending(path)
	led, err := ledger.Open(path)
	if err != nil {
		return c.fail(err)
	}
	defer led.Close()
	t, err := led.Totals(ctx, time.Now())
	if err != nil {
		return c.fail(err)
	}
	out := earningsJSON{
		TotalMicroUSDC: t.TotalMicro, TodayMicroUSDC: t.TodayMicro, Last7dMicroUSDC: t.Last7dMicro,
		Jobs: t.Jobs, TodayJobs: t.TodayJobs, Models: []modelEarningsJSON{}, PendingJobs: pending, Note: estimateNote,
	}
	for _, m := range t.Models {
		out.Models = append(out.Models, modelEarningsJSON{Model: m.Model, Jobs: m.Jobs, TotalMicroUSDC: m.TotalMicro, TodayJobs: m.TodayJobs, TodayMicroUSDC: m.TodayMicro})
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Today\t%s USDC\t%d jobs\n", ledger.FormatExact(t.TodayMicro), t.TodayJobs)
	fmt.Fprintf(w, "Last 7 days\t%s USDC\t\n", ledger.FormatExact(t.Last7dMicro))
	fmt.Fprintf(w, "All time\t%s USDC\t%d jobs\n", ledger.FormatExact(t.TotalMicro), t.Jobs)
	for _, m := range t.Models {
		fmt.Fprintf(w, "  %s\t%s USDC\t%d jobs\n", m.Model, ledger.FormatExact(m.TotalMicro), m.Jobs)
	}
	w.Flush()
	if pending > 0 {
		fmt.Fprintf(c.stdout, "%d finished jobs wait to be written to the ledger (it could not be written); they are not counted yet.\n", pending)
	}
	fmt.Fprintf(c.stdout, "(%s)\n", estimateNote)
	return exitOK
}

func cmdIdentity(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("identity")
	keyring := fs.String("keyring", "", "where the identity key is kept: auto, system or file")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	cfg, _, _, err := c.loadConfig(nil)
	if err != nil {
		return c.usageError(err)
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return c.fail(err)
	}
	mode := cmp.Or(*keyring, cfg.Identity.Keyring)
	store, err := identity.OpenConfigured(ctx, mode, cfg.Identity.KeyPath, dataDir, discardLogger())
	if err != nil {
		return c.fail(err)
	}
	id, err := store.Load(ctx)
	if err != nil {
		if err == identity.ErrNotFound {
			fmt.Fprintf(c.stdout, "No identity yet: one is created the first time the agent runs (kept in %s).\n", store.Where())
			return exitOK
		}
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Public key:  %s\n", id.PublicBase64())
	if id.ProviderID != "" {
		fmt.Fprintf(c.stdout, "Provider id: %s\n", id.ProviderID)
	} else {
		fmt.Fprintln(c.stdout, "Provider id: not enrolled yet")
	}
	fmt.Fprintf(c.stdout, "Kept in:     %s\n", store.Where())
	return exitOK
}
