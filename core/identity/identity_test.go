package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 678, time.FixedZone("CET", 3600))

func newIdentity(t *testing.T) *Identity {
	t.Helper()
	id, err := New(testNow)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sameIdentity(a, b *Identity) bool {
	return a != nil && b != nil && bytes.Equal(a.Private, b.Private) &&
		a.ProviderID == b.ProviderID && a.Created.Equal(b.Created)
}

// secrets are the forms in which id's secret might leak into text.
func secrets(id *Identity) []string {
	seed := id.Private.Seed()
	return []string{
		base64.StdEncoding.EncodeToString(seed),
		base64.RawStdEncoding.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(id.Private),
		hex.EncodeToString(seed),
		fmt.Sprint([]byte(seed)),
	}
}

func assertNoSecret(t *testing.T, id *Identity, text string) {
	t.Helper()
	for _, s := range secrets(id) {
		if strings.Contains(text, s) {
			t.Fatalf("text shows the secret key") // never print the text itself
		}
	}
}

func TestNew(t *testing.T) {
	id := newIdentity(t)
	if len(id.Private) != ed25519.PrivateKeySize || len(id.Public()) != ed25519.PublicKeySize {
		t.Fatalf("key sizes %d/%d", len(id.Private), len(id.Public()))
	}
	if want := time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC); !id.Created.Equal(want) || id.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v", id.Created, want)
	}
	if id.ProviderID != "" {
		t.Error("a new identity is enrolled")
	}
	other := newIdentity(t)
	if bytes.Equal(id.Private, other.Private) {
		t.Error("two new identities share a key")
	}
}

func TestPublicBase64(t *testing.T) {
	id := newIdentity(t)
	s := id.PublicBase64()
	if len(s) != 44 || !strings.HasSuffix(s, "=") {
		t.Errorf("PublicBase64 = %q: want 44 chars of padded standard base64", s)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !bytes.Equal(raw, id.Public()) {
		t.Errorf("PublicBase64 does not decode to the public key: %v", err)
	}
}

func TestSignVerifiesOverDecodedNonce(t *testing.T) {
	id := newIdentity(t)
	// As in auth_challenge: the nonce arrives in base64; the signature is
	// over its decoded bytes.
	nonceB64 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	nonce, err := base64.StdEncoding.DecodeString(nonceB64)
	if err != nil {
		t.Fatal(err)
	}
	sig := id.Sign(nonce)
	if len(sig) != ed25519.SignatureSize {
		t.Fatalf("signature is %d bytes", len(sig))
	}
	pub, _ := base64.StdEncoding.DecodeString(id.PublicBase64())
	if !ed25519.Verify(pub, nonce, sig) {
		t.Error("signature does not verify over the decoded nonce")
	}
	if ed25519.Verify(pub, []byte(nonceB64), sig) {
		t.Error("signature verifies over the base64 text; it must be over the bytes")
	}
	if ed25519.Verify(newIdentity(t).Public(), nonce, sig) {
		t.Error("signature verifies under another key")
	}
}

func TestIdentityNeverPrintsTheSecret(t *testing.T) {
	id := newIdentity(t)
	id.ProviderID = "prov_123"
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("loaded", "identity", id, "value", *id)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "identity", id)

	for _, text := range []string{
		fmt.Sprint(id), fmt.Sprint(*id),
		fmt.Sprintf("%v %+v %#v %s", id, id, id, id),
		fmt.Sprintf("%v %+v %#v %s", *id, *id, *id, *id),
		logged.String(),
	} {
		assertNoSecret(t, id, text)
	}
	if s := id.String(); !strings.Contains(s, id.PublicBase64()) || !strings.Contains(s, "prov_123") {
		t.Errorf("String() = %q: want the public key and provider id", s)
	}
	if !strings.Contains(logged.String(), `"pubkey":"`+id.PublicBase64()) {
		t.Errorf("log lacks the public key: %s", logged.String())
	}
}
