package engine

import (
	"context"
	"fmt"
)

// ReloadIdentity takes up the identity now in the key store, after an
// import replaced it there: a different key or provider id ends the
// current session, so the next handshake signs with the new key (and sends
// the enrollment code only if the new identity has no provider id). It
// reports whether the identity changed. It blocks on the key store.
func (e *Engine) ReloadIdentity(ctx context.Context) (changed bool, err error) {
	id, err := e.opts.KeyStore.Load(ctx)
	if err != nil {
		return false, fmt.Errorf("identity: %w", err)
	}
	e.mu.Lock()
	changed = e.id == nil || e.id.PublicBase64() != id.PublicBase64() || e.id.ProviderID != id.ProviderID
	if changed {
		e.id = id
		e.idUnsaved, e.idSaveErr = false, "" // a save pending for the old identity must not overwrite the new one
		e.authReason = ""
	}
	sess := e.sess
	e.mu.Unlock()
	if !changed {
		return false, nil
	}
	e.log.Info("identity replaced", "public_key", id.PublicBase64(), "provider_id", id.ProviderID, "kept_in", e.opts.KeyStore.Where())
	if sess != nil {
		go sess.Close() // the coordinator knows this connection by the old key
	}
	e.wake()
	e.publish()
	return true, nil
}
