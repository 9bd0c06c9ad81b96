package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/localapi"
)

// ImportFiles names what an import of the command-line agent takes over.
type ImportFiles struct {
	AgentToml   string // its settings file
	IdentityKey string // its key file; "" uses the settings' key_path, else ~/.usepod-agent/identity.key
	ConfigPath  string // this agent's settings file, written with the merge
	DataDir     string // this agent's data folder (the fallback key file lives there)
	// Force replaces an identity already here that differs from the
	// imported one.
	Force bool
}

// ImportResult says what an import took over.
type ImportResult struct {
	KeyPath    string
	PublicKey  string
	ProviderID string
	KeptIn     string
	Config     config.Config // the settings now saved
}

// ImportCLI takes over the command-line agent's settings (agent.toml) and
// identity (identity.key), so the operator keeps their provider id and
// reputation. The desktop agent's own choices (model switches, start at
// login, keyring mode) are kept. An existing, different identity is only
// replaced with Force, since losing it loses a provider id: without it the
// error is an *IdentityConflict.
func ImportCLI(ctx context.Context, f ImportFiles) (ImportResult, error) {
	theirs, err := config.LoadFile(f.AgentToml)
	if err != nil {
		return ImportResult{}, err
	}
	if !theirs.Exists {
		return ImportResult{}, fmt.Errorf("%s does not exist", f.AgentToml)
	}
	if err := theirs.Validate(); err != nil {
		return ImportResult{}, err
	}
	ours, err := config.LoadFile(f.ConfigPath)
	if err != nil {
		return ImportResult{}, fmt.Errorf("your current settings: %w", err)
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

	keyPath := f.IdentityKey
	if keyPath == "" {
		keyPath = expandHome(theirs.Config.Identity.KeyPath)
	}
	if keyPath == "" {
		home, _ := os.UserHomeDir()
		keyPath = filepath.Join(home, ".usepod-agent", "identity.key")
	}
	id, err := identity.ImportKeyFile(keyPath)
	if err != nil {
		return ImportResult{}, err
	}
	store, err := identity.OpenStore(ctx, merged.Identity.Keyring, f.DataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return ImportResult{}, err
	}
	cur, err := store.Load(ctx)
	switch {
	case errors.Is(err, identity.ErrNotFound):
	case err != nil:
		return ImportResult{}, err
	case cur.PublicBase64() != id.PublicBase64() && !f.Force:
		return ImportResult{}, &IdentityConflict{Current: cur}
	}
	if err := store.Save(ctx, id); err != nil {
		return ImportResult{}, err
	}
	if err := config.Save(f.ConfigPath, merged); err != nil {
		return ImportResult{}, err
	}
	return ImportResult{KeyPath: keyPath, PublicKey: id.PublicBase64(), ProviderID: id.ProviderID, KeptIn: store.Where(), Config: merged}, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// IdentityConflict is ImportCLI's refusal to replace a different identity
// without Force.
type IdentityConflict struct{ Current *identity.Identity }

func (e *IdentityConflict) Error() string {
	return fmt.Sprintf("this computer already has a different identity (public key %s, provider id %q); importing would replace it — run again with --force if you are sure", e.Current.PublicBase64(), e.Current.ProviderID)
}

// importFromCLI is the local API's import: the dashboard's Settings →
// Import. A different identity already here is only replaced when the user
// confirmed it (r.Force); otherwise the answer says what would be lost. A
// successful import is applied to the running engine at once: its settings
// (so the next save does not undo them) and its identity (the session
// reconnects with the imported key).
func (a *Agent) importFromCLI(ctx context.Context, r localapi.ImportRequest) (localapi.ImportResult, error) {
	res, err := ImportCLI(ctx, ImportFiles{AgentToml: r.AgentToml, IdentityKey: r.IdentityKey, ConfigPath: a.o.ConfigPath, DataDir: a.o.DataDir, Force: r.Force})
	var conflict *IdentityConflict
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
func (a *Agent) conflictError(ctx context.Context, c *IdentityConflict) error {
	e := &localapi.IdentityConflictError{CurrentPublicKey: c.Current.PublicBase64(), CurrentProviderID: c.Current.ProviderID}
	if t, err := a.ledger.Totals(ctx, time.Now()); err == nil {
		e.CurrentJobs, e.CurrentEarnedMicro = t.Jobs, t.TotalMicro
	}
	switch {
	case e.CurrentJobs > 0:
		e.Msg = fmt.Sprintf("This computer already has its own identity (provider id %s), which has served %d jobs for about %s USDC here. Importing replaces it with the command-line agent's: this computer then earns as that provider, and the jobs already served stay in your earnings record.", cmp.Or(e.CurrentProviderID, "not enrolled"), e.CurrentJobs, ledger.FormatExact(e.CurrentEarnedMicro))
	case e.CurrentProviderID != "":
		e.Msg = fmt.Sprintf("This computer already has its own identity (provider id %s). It has not earned anything yet, so you lose nothing by replacing it with the command-line agent's.", e.CurrentProviderID)
	default:
		e.Msg = "This computer already has an identity of its own, never enrolled and never used to earn: you lose nothing by replacing it with the command-line agent's."
	}
	return e
}
