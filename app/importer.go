package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"usepod.ai/agent/core/agent"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func cmdImport(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("import")
	force := fs.Bool("force", false, "replace an existing, different identity")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return c.usageError(errors.New("import needs the command-line agent's agent.toml, and optionally its identity.key: usepod-agent import AGENT_TOML [IDENTITY_KEY]"))
	}
	cfgPath, dataDir, err := c.paths()
	if err != nil {
		return c.fail(err)
	}
	res, err := agent.ImportCLI(ctx, agent.ImportFiles{AgentToml: fs.Arg(0), IdentityKey: fs.Arg(1), ConfigPath: cfgPath, DataDir: dataDir, Force: *force})
	if err != nil {
		return c.fail(err)
	}
	printImport(c.stdout, cfgPath, res)
	return exitOK
}

func printImport(w io.Writer, cfgPath string, r agent.ImportResult) {
	fmt.Fprintf(w, "Imported settings into %s\n", cfgPath)
	fmt.Fprintf(w, "Imported identity from %s (public key %s) into %s\n", r.KeyPath, r.PublicKey, r.KeptIn)
	if r.ProviderID != "" {
		fmt.Fprintf(w, "Provider id %s kept: no enrollment code is needed.\n", r.ProviderID)
	}
}
