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
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/localapi"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// importResult says what an import took over.
type importResult struct {
	KeyPath    string
	PublicKey  string
	ProviderID string
	KeptIn     string
	Config     config.Config // the settings now saved
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
	// The key moves into this agent's own store: the imported key_path
	// would otherwise keep using the command-line agent's file in place.
	merged.Identity.KeyPath = ""

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
		return importResult{}, &identityConflict{current: cur}
	}
	if err := store.Save(ctx, id); err != nil {
		return importResult{}, err
	}
	if err := config.Save(cfgPath, merged); err != nil {
		return importResult{}, err
	}
	return importResult{KeyPath: keyPath, PublicKey: id.PublicBase64(), ProviderID: id.ProviderID, KeptIn: store.Where(), Config: merged}, nil
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

// importFromCLI is the local API's import: the dashboard's Settings →
// Import. A different identity already here is only replaced when the user
// confirmed it (r.Force); otherwise the answer says what would be lost. A
// successful import is applied to the running engine at once: its settings
// (so the next save does not undo them) and its identity (the session
// reconnects with the imported key).
func (a *agent) importFromCLI(ctx context.Context, r localapi.ImportRequest) (localapi.ImportResult, error) {
	res, err := importCLI(ctx, r.AgentToml, r.IdentityKey, a.cfgPath, a.dataDir, r.Force)
	var conflict *identityConflict
	if errors.As(err, &conflict) {
		return localapi.ImportResult{}, a.conflictError(ctx, conflict)
	}
	if err != nil {
		return localapi.ImportResult{}, err
	}
	if _, err := a.engine.AdoptImport(ctx, &res.Config); err != nil {
		return localapi.ImportResult{}, fmt.Errorf("the import was saved but not applied; restart Use Pod Agent to use it: %w", err)
	}
	a.log.Info("imported the command-line agent", "provider_id", res.ProviderID, "kept_in", res.KeptIn)
	return localapi.ImportResult{KeyPath: res.KeyPath, PublicKey: res.PublicKey, ProviderID: res.ProviderID, KeptIn: res.KeptIn}, nil
}

// conflictError tells the dashboard what replacing this computer's
// identity would lose: what it has earned here, or nothing.
func (a *agent) conflictError(ctx context.Context, c *identityConflict) error {
	e := &localapi.IdentityConflictError{CurrentPublicKey: c.current.PublicBase64(), CurrentProviderID: c.current.ProviderID}
	if t, err := a.ledger.Totals(ctx, time.Now()); err == nil {
		e.CurrentJobs, e.CurrentEarnedMicro = t.Jobs, t.TotalMicro
	}
	switch {
	case e.CurrentJobs > 0:
		e.Msg = fmt.Sprintf("This computer already has its own identity (provider id %s), which has served %d jobs for about %s USDC here. Importing replaces it with the command-line agent's: this computer then earns as that provider, and the jobs already served stay in your earnings record.", cmpOr(e.CurrentProviderID, "not enrolled"), e.CurrentJobs, usdc(e.CurrentEarnedMicro))
	case e.CurrentProviderID != "":
		e.Msg = fmt.Sprintf("This computer already has its own identity (provider id %s). It has not earned anything yet, so you lose nothing by replacing it with the command-line agent's.", e.CurrentProviderID)
	default:
		e.Msg = "This computer already has an identity of its own, never enrolled and never used to earn: you lose nothing by replacing it with the command-line agent's."
	}
	return e
}

// identityConflict is importCLI's refusal to replace a different identity
// without force.
type identityConflict struct{ current *identity.Identity }

func (e *identityConflict) Error() string {
	return fmt.Sprintf("this computer already has a different identity (public key %s, provider id %q); importing would replace it — run again with --force if you are sure", e.current.PublicBase64(), e.current.ProviderID)
}
