package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"usepod.ai/agent/core/agent"
	"usepod.ai/agent/core/localapi"
)

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
	cfgPath, dataDir, err := c.paths()
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	if err := agent.WriteOfflineBundle(ctx, &b, cfgPath, dataDir); err != nil {
		return nil, "", err
	}
	return b.Bytes(), "from the files; no agent was running", nil
}

// writeFilePrivate writes b to path readable by its owner only: a bundle
// holds no secrets, but it does hold the setup of this machine.
func writeFilePrivate(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write the support bundle: %w", err)
	}
	return nil
}
