package engine

import (
	"testing"
	"time"

	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// An import replaces the identity in the key store while the engine runs:
// AdoptImport (with no settings) takes it up, ends the session signed with the old key and
// connects again with the new one, without the enrollment code since the
// imported identity has its provider id.
func TestAdoptImportReconnectsWithTheImportedKey(t *testing.T) {
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{EnrollmentCodes: []string{testCode}}, withBackends(llama))
	first := h.provider()
	h.waitState(stateIs(StateWaiting), "waiting for jobs")

	if changed, err := h.eng.AdoptImport(ctxT(t), nil); err != nil || changed {
		t.Fatalf("AdoptImport with the same key = %v, %v; want unchanged", changed, err)
	}

	imported, err := identity.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	imported.ProviderID = h.coord.Enroll(imported.PublicBase64()) // the command-line agent enrolled it
	if err := h.store.Save(ctxT(t), imported); err != nil {
		t.Fatal(err)
	}
	changed, err := h.eng.AdoptImport(ctxT(t), nil)
	if err != nil || !changed {
		t.Fatalf("AdoptImport after an import = %v, %v; want changed", changed, err)
	}
	second := h.provider()
	if second.PubKey != imported.PublicBase64() {
		t.Errorf("reconnected with key %s, want the imported %s", second.PubKey, imported.PublicBase64())
	}
	if first.PubKey == second.PubKey {
		t.Error("the session after the import still uses the old key")
	}
	if second.EnrollmentCode != "" {
		t.Errorf("the imported identity has a provider id, yet the code %q was sent", second.EnrollmentCode)
	}
	s := h.waitState(func(s Snapshot) bool { return s.PublicKey == imported.PublicBase64() && s.State == StateWaiting }, "the imported identity, waiting")
	if s.ProviderID != imported.ProviderID {
		t.Errorf("snapshot provider id = %q, want %q", s.ProviderID, imported.ProviderID)
	}
}
