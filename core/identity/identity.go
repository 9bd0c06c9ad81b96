// Package identity holds the agent's Ed25519 key pair (docs/protocol.md
// section 2) and keeps it behind a KeyStore: the OS keychain or a 0600 file
// in the command-line agent's identity.key format (section 9).
//
// No key material ever appears in an error, a log line or the fmt/slog form
// of an Identity.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNotFound is returned by KeyStore.Load when no identity is stored yet.
var ErrNotFound = errors.New("no identity key stored")

// Identity is the agent's key pair and what the coordinator knows it by.
//
// Its String, GoString and LogValue show the public key and provider id
// only, so printing or logging an Identity never shows the secret.
type Identity struct {
	Private ed25519.PrivateKey
	// ProviderID is set once the coordinator has enrolled the agent
	// (auth_ok); "" before that.
	ProviderID string
	// Created is when the key pair was made, to the second, in UTC.
	Created time.Time
}

// New makes a fresh key pair from crypto/rand.
func New(now time.Time) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity key: %w", err)
	}
	return &Identity{Private: priv, Created: now.UTC().Truncate(time.Second)}, nil
}

// Public is the public half of the key pair.
func (id Identity) Public() ed25519.PublicKey {
	return id.Private.Public().(ed25519.PublicKey)
}

// PublicBase64 is the public key as the coordinator wants it: the 32 raw
// bytes in standard base64 with padding.
func (id Identity) PublicBase64() string {
	return base64.StdEncoding.EncodeToString(id.Public())
}

// Sign signs the decoded nonce bytes of an auth_challenge; the result is 64
// bytes, sent in base64.
func (id Identity) Sign(nonce []byte) []byte {
	return ed25519.Sign(id.Private, nonce)
}

// String shows the public key and provider id, never the secret.
func (id Identity) String() string {
	if len(id.Private) != ed25519.PrivateKeySize {
		return "identity(invalid)"
	}
	if id.ProviderID == "" {
		return "identity(pubkey " + id.PublicBase64() + ", not enrolled)"
	}
	return "identity(pubkey " + id.PublicBase64() + ", provider " + id.ProviderID + ")"
}

// GoString keeps %#v from printing the secret.
func (id Identity) GoString() string { return id.String() }

// LogValue keeps slog from printing the secret.
func (id Identity) LogValue() slog.Value {
	if len(id.Private) != ed25519.PrivateKeySize {
		return slog.StringValue("invalid")
	}
	return slog.GroupValue(
		slog.String("pubkey", id.PublicBase64()),
		slog.String("provider_id", id.ProviderID),
	)
}

// check reports whether id can be stored.
func (id Identity) check() error {
	if len(id.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("identity key has %d bytes, want %d", len(id.Private), ed25519.PrivateKeySize)
	}
	for _, r := range id.ProviderID {
		if r < 0x20 || r == 0x7f {
			return errors.New("provider id holds a control character")
		}
	}
	return nil
}
