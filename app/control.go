package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/localapi"
)

// Control from a terminal: status, pause and resume talk to the running
// agent (the desktop app, the headless agent or the system service) through
// its local API.

// controlTimeout bounds one call to the running agent.
const controlTimeout = 10 * time.Second

func cmdStatus(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("status")
	asJSON := fs.Bool("json", false, "print JSON")
	api := fs.String("api", "", "the agent's local API `address` (default: this user's agent, else the system service)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	client, code := c.connectAgent(*api)
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	st, err := client.Status(ctx)
	if err != nil {
		return c.agentError(err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return exitOK
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "State\t%s\n", st.State)
	if st.Reason != "" {
		fmt.Fprintf(w, "Reason\t%s\n", st.Reason)
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "Last error\t%s\n", st.LastError)
	}
	fmt.Fprintf(w, "Jobs in flight\t%d\n", st.JobsInFlight)
	fmt.Fprintf(w, "Earned today\t%s USDC\t%d jobs\n", ledger.FormatExact(st.Earnings.TodayMicro), st.Earnings.TodayJobs)
	for _, m := range st.Models {
		on := "off"
		switch {
		case m.Offered:
			on = "offered"
		case m.Enabled:
			on = "on"
		}
		fmt.Fprintf(w, "Model\t%s\t%s (%s)\n", m.ID, on, m.Backend)
	}
	fmt.Fprintf(w, "Process\t%d\n", st.PID)
	w.Flush()
	return exitOK
}

func cmdPause(ctx context.Context, c *cli, args []string) int {
	return setEarning(ctx, c, "pause", args, false)
}
func cmdResume(ctx context.Context, c *cli, args []string) int {
	return setEarning(ctx, c, "resume", args, true)
}

func setEarning(ctx context.Context, c *cli, name string, args []string, on bool) int {
	fs := c.flagSet(name)
	api := fs.String("api", "", "the agent's local API `address` (default: this user's agent, else the system service)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	client, code := c.connectAgent(*api)
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	if err := client.SetEarning(ctx, on); err != nil {
		return c.agentError(err)
	}
	if on {
		fmt.Fprintln(c.stdout, "Earning resumed.")
	} else {
		fmt.Fprintln(c.stdout, "Earning paused: no new jobs; running jobs finish.")
	}
	return exitOK
}

// connectAgent finds the running agent. With none, it says so in one line
// and returns a nil client and exit code 1.
func (c *cli) connectAgent(explicit string) (*localapi.Client, int) {
	addr, err := c.apiAddress(explicit)
	if err != nil {
		return nil, c.fail(err)
	}
	if !answers(addr) {
		//lint:ignore ST1005 it starts with the product's name; the terminal prints it as a sentence
		return nil, c.fail(errors.New("Use Pod Agent is not running (start it with: usepod-agent run)"))
	}
	return localapi.NewClient(addr), exitOK
}

// agentError reports a failed call to the running agent in one line.
func (c *cli) agentError(err error) int {
	if errors.Is(err, localapi.ErrNotRunning) {
		//lint:ignore ST1005 it starts with the product's name; the terminal prints it as a sentence
		return c.fail(errors.New("Use Pod Agent is not running (start it with: usepod-agent run)"))
	}
	return c.fail(fmt.Errorf("the running agent: %w", err))
}
