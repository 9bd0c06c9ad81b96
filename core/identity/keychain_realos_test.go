//go:build realos && (windows || darwin)

package identity

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The real keychain of a real Windows (Credential Manager) or macOS
// (Keychain) machine: a key saved is loaded back byte for byte, Where
// names the keychain, and Delete removes it. Runs in the CI workflow's
// windows-latest and macos-latest jobs (go test -tags realos); elsewhere
// realos_test.go says it did not run.
func TestRealKeychainRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := &KeychainStore{Service: DefaultService + ".test", User: "identity-" + strings.ReplaceAll(t.Name(), "/", "-")}
	t.Cleanup(func() { s.Delete(ctx) })
	id, err := New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, id); err != nil {
		t.Fatalf("save to %s: %v", s.Where(), err)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("load from %s: %v", s.Where(), err)
	}
	if got.PublicBase64() != id.PublicBase64() || string(got.Private) != string(id.Private) {
		t.Fatal("the key loaded back differs from the one saved")
	}
	want := map[string]string{"windows": "Windows Credential Manager", "darwin": "macOS keychain"}
	if w := s.Where(); !strings.Contains(w, want[runtime.GOOS]) {
		t.Errorf("Where() = %q, want it to name %s", w, want[runtime.GOOS])
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); err == nil {
		t.Fatal("the key is still there after Delete")
	}
}
