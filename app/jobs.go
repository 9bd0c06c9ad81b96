package app

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
)

// defaultJobRows is how many jobs `jobs` prints as a table unless --limit
// says otherwise; --csv and --json print every selected job.
const defaultJobRows = 50

// cmdJobs prints the job record. It reads the ledger file directly: that
// works whether or not an agent runs (SQLite in WAL mode is read while the
// agent writes), and a large export does not pass through the agent.
func cmdJobs(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("jobs")
	since := fs.String("since", "", "only jobs that ended in the last `DURATION` (90m, 24h, 7d) or since DATE (2026-11-01, or RFC 3339)")
	model := fs.String("model", "", "only jobs of this `model`")
	failed := fs.Bool("failed", false, "only jobs that did not end with job_done")
	asCSV := fs.Bool("csv", false, "print CSV (columns in the README, \"Job record\")")
	asJSON := fs.Bool("json", false, "print a JSON array")
	limit := fs.Int("limit", -1, "print at most `N` jobs, newest first (0: all; default: 50 for the table, all for --csv and --json)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fmt.Errorf("jobs takes no arguments, got %q (filter a model with --model)", fs.Arg(0)))
	}
	if *asCSV && *asJSON {
		return c.usageError(errors.New("choose one of --csv and --json"))
	}
	q := ledger.JobQuery{Model: *model}
	if *failed {
		q.Outcome = ledger.OutcomeFailed
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return c.usageError(err)
		}
		q.Since = t
	}
	n := *limit
	if n < 0 {
		n = 0
		if !*asCSV && !*asJSON {
			n = defaultJobRows
		}
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return c.fail(err)
	}
	led, err := ledger.Open(filepath.Join(dataDir, "ledger.db"))
	if err != nil {
		return c.fail(err)
	}
	defer led.Close()

	out := bufio.NewWriterSize(c.stdout, 64<<10)
	defer out.Flush()
	printed := 0
	each := func(f func(ledger.Job) error) error {
		errEnough := errors.New("enough")
		err := led.Each(ctx, q, func(j ledger.Job) error {
			if n > 0 && printed == n {
				return errEnough
			}
			printed++
			return f(j)
		})
		if errors.Is(err, errEnough) {
			return nil
		}
		return err
	}
	switch {
	case *asCSV:
		if n == 0 {
			_, err = led.WriteCSV(ctx, out, q)
		} else {
			err = writeCSVRows(out, each)
		}
	case *asJSON:
		err = writeJSONRows(out, each)
	default:
		err = printJobTable(ctx, out, led, q, each)
	}
	if err != nil {
		out.Flush()
		return c.fail(err)
	}
	return exitOK
}

// parseSince reads --since: a duration back from now (Go's, plus whole
// days as "7d"), or a date (local midnight) or RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (90m, 24h, 7d) nor a date (2026-11-01 or 2026-11-01T08:00:00Z)", s)
}

func writeCSVRows(out *bufio.Writer, each func(func(ledger.Job) error) error) error {
	w := csv.NewWriter(out)
	if err := w.Write(ledger.CSVHeader); err != nil {
		return err
	}
	err := each(func(j ledger.Job) error { return w.Write(j.CSVRecord()) })
	w.Flush()
	return errors.Join(err, w.Error())
}

func writeJSONRows(out *bufio.Writer, each func(func(ledger.Job) error) error) error {
	out.WriteString("[")
	first := true
	err := each(func(j ledger.Job) error {
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if !first {
			out.WriteString(",")
		}
		first = false
		out.WriteString("\n  ")
		_, err = out.Write(b)
		return err
	})
	out.WriteString("\n]\n")
	return err
}

func printJobTable(ctx context.Context, out *bufio.Writer, led *ledger.Ledger, q ledger.JobQuery, each func(func(ledger.Job) error) error) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ENDED\tMODEL\tOUTCOME\tFIRST CHUNK\tDURATION\tTOKENS IN/OUT\tEARNED USDC\tMESSAGE")
	err := each(func(j ledger.Job) error {
		first := "-"
		if j.FirstChunkMs != nil {
			first = fmt.Sprintf("%d ms", *j.FirstChunkMs)
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.At.Local().Format("2006-01-02 15:04:05"), j.Model, j.Outcome,
			first, (time.Duration(j.DurationMs) * time.Millisecond).String(), j.InputTokens, j.OutputTokens,
			ledger.FormatExact(ledger.MicroFromE12(j.EarnedE12)), oneLine(j.Message))
		return err
	})
	if err != nil {
		return err
	}
	w.Flush()
	t, err := led.Summary(ctx, q)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d jobs (%d done, %d failed), earned %s USDC, %d/%d tokens in/out\n",
		t.Jobs, t.Done, t.Failed, ledger.FormatExact(t.EarnedMicro), t.InputTokens, t.OutputTokens)
	return nil
}

// cmdSelftest runs the self-test on the running agent: it owns the routes
// to the inference servers and measures through its own relay path.
func cmdSelftest(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("selftest")
	asJSON := fs.Bool("json", false, "print JSON: a list of {model_id, backend, ok, ttft_ms, tokens_per_s, usage_reported, error, ...}")
	api := fs.String("api", "", "the agent's local API `address` (default: this user's agent, else the system service)")
	// Models and flags in any order: `selftest llama3 --json` too.
	var models []string
	for {
		if ok, code := c.parse(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		models, args = append(models, fs.Arg(0)), fs.Args()[1:]
	}
	client, code := c.connectAgent(*api)
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(len(models), 1)+1)*selftest.DefaultTimeout)
	defer cancel()
	rs, err := client.SelfTest(ctx, models)
	if err != nil {
		return c.agentError(err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if rs == nil {
			rs = []selftest.Result{}
		}
		enc.Encode(rs)
	} else {
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "MODEL\tBACKEND\tRESULT\tFIRST TOKEN\tTOKENS/S\tUSAGE\tERROR")
		for _, r := range rs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%.0f ms\t%.1f\t%s\t%s\n", r.ModelID, r.Backend, okText(r.OK), r.TTFTMs, r.TokensPerS, yesNo(r.UsageReported), r.Error)
		}
		w.Flush()
	}
	for _, r := range rs {
		if !r.OK {
			return exitError // scripts and fleets see a failed model
		}
	}
	return exitOK
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

func yesNo(b bool) string {
	if b {
		return "reported"
	}
	return "missing"
}
