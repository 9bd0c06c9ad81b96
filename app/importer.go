package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/identity"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// importResult says what an import took over.
type importResult struct {
	KeyPath    string
	PublicKey  string
	ProviderID string
	KeptIn     string
}

// importCLI takes over the command-line agent's settings (agent.toml) and
// identity (identity.key), so the operator keeps their provider id and
// reputation. The desktop agent's own choices (model switches, start at
// login, keyring mode) are kept. An existing, different identity is only
// replaced with force, since losing it loses a provider id.
func importCLI(ctx context.Context, tomlPath, keyPath, cfgPath string, dataDir string, force bool) (importResult, error) {
	theirs, err := config.LoadFile(tomlPath)
	if err != nil {
		return importResult{}, err
	}
	if !theirs.Exists {
		return importResult{}, fmt.Errorf("%s does not exist", tomlPath)
	}
	if err := theirs.Validate(); err != nil {
		return importResult{}, err
	}
	ours, err := config.LoadFile(cfgPath)
	if err != nil {
		return importResult{}, fmt.Errorf("your current settings: %w", err)
	}
	merged := theirs.Config
	merged.Models = ours.Config.Models
	merged.Desktop = ours.Config.Desktop
	if ours.Exists && ours.Config.Identity.Keyring != "" {
		merged.Identity.Keyring = ours.Config.Identity.Keyring
	}

	if keyPath == "" {
		keyPath = expandHome(theirs.Config.Identity.KeyPath)
	}
	if keyPath == "" {
		home, _ := os.UserHomeDir()
		keyPath = filepath.Join(home, ".usepod-agent", "identity.key")
	}
	id, err := identity.ImportKeyFile(keyPath)
	if err != nil {
		return importResult{}, err
	}
	store, err := identity.OpenStore(ctx, merged.Identity.Keyring, dataDir, discardLogger())
	if err != nil {
		return importResult{}, err
	}
	cur, err := store.Load(ctx)
	switch {
	case errors.Is(err, identity.ErrNotFound):
	case err != nil:
		return importResult{}, err
	case cur.PublicBase64() != id.PublicBase64() && !force:
		return importResult{}, fmt.Errorf("this computer already has a different identity (public key %s, provider id %q); importing would replace it — run again with --force if you are sure", cur.PublicBase64(), cur.ProviderID)
	}
	if err := store.Save(ctx, id); err != nil {
		return importResult{}, err
	}
	if err := config.Save(cfgPath, merged); err != nil {
		return importResult{}, err
	}
	return importResult{KeyPath: keyPath, PublicKey: id.PublicBase64(), ProviderID: id.ProviderID, KeptIn: store.Where()}, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

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
	res, err := importCLI(ctx, fs.Arg(0), fs.Arg(1), cfgPath, dataDir, *force)
	if err != nil {
		return c.fail(err)
	}
	printImport(c.stdout, cfgPath, res)
	return exitOK
}

func printImport(w io.Writer, cfgPath string, r importResult) {
	fmt.Fprintf(w, "Imported settings into %s\n", cfgPath)
	fmt.Fprintf(w, "Imported identity from %s (public key %s) into %s\n", r.KeyPath, r.PublicKey, r.KeptIn)
	if r.ProviderID != "" {
		fmt.Fprintf(w, "Provider id %s kept: no enrollment code is needed.\n", r.ProviderID)
	}
}
