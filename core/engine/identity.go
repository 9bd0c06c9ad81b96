package engine

import (
	"context"
	"fmt"

	"usepod.ai/agent/core/config"
)

// AdoptImport takes up an import: the identity now in the key store and,
// when cfg is not nil, the imported settings (validated and saved as
// UpdateConfig does), in one step, so the session is redialled once with
// both. A different key or provider id ends the current session, so the
// next handshake signs with the new key (and sends the enrollment code
// only if the new identity has no provider id). It reports whether the
// identity changed. It blocks on the key store and the settings file.
func (e *Engine) AdoptImport(ctx context.Context, cfg *config.Config) (idChanged bool, err error) {
	id, err := e.opts.KeyStore.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("identity: %w", err)
	}
	edit := func(*config.Config) {}
	if cfg != nil {
		edit = func(c *config.Config) { *c = cfg.Clone() }
	}
	idChanged, err = e.applyConfig(edit, id)
	if err != nil {
		return false, err
	}
	if idChanged {
		e.log.Info("identity replaced", "public_key", id.PublicBase64(), "provider_id", id.ProviderID, "kept_in", e.opts.KeyStore.Where())
		e.publish()
	}
	return idChanged, nil
}
