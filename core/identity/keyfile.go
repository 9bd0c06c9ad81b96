package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The command-line agent's identity.key (docs/protocol.md section 9):
//
//	-----BEGIN USEPOD AGENT KEY-----
//	version: 1
//	created: 2026-01-02T03:04:05+00:00
//	secret: <base64 of the 32-byte Ed25519 seed>
//	public: <base64 of the 32-byte public key>
//	provider_id: <present once enrolled>
//	-----END USEPOD AGENT KEY-----
const (
	keyFileBegin   = "-----BEGIN USEPOD AGENT KEY-----"
	keyFileEnd     = "-----END USEPOD AGENT KEY-----"
	keyFileVersion = "1"
	// createdLayout is RFC 3339 with a numeric zone, as the command-line
	// agent writes it ("+00:00" rather than "Z").
	createdLayout = "2006-01-02T15:04:05-07:00"
)

// ParseKeyFile reads the key-file format. Unknown "key: value" lines are
// ignored; a public key that does not match the secret is refused. Errors
// name the field at fault and never hold key material.
func ParseKeyFile(data []byte) (*Identity, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(text, "\n")

	begin, end := -1, -1
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case keyFileBegin:
			if begin < 0 {
				begin = i
			}
		case keyFileEnd:
			if begin >= 0 && end < 0 {
				end = i
			}
		}
	}
	if begin < 0 {
		return nil, errors.New("not a Use Pod agent key: no " + keyFileBegin + " line")
	}
	if end < 0 {
		return nil, errors.New("key file is cut short: no " + keyFileEnd + " line")
	}

	fields := map[string]string{}
	for i := begin + 1; i < end; i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("key file line %d is not a \"key: value\" line", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("key file has %s twice", k)
		}
		fields[k] = v
	}

	if v, ok := fields["version"]; ok && v != keyFileVersion {
		return nil, fmt.Errorf("key file version %q is not supported (want %s)", v, keyFileVersion)
	}
	secret, ok := fields["secret"]
	if !ok || secret == "" {
		return nil, errors.New("key file has no secret")
	}
	seed, err := decodeKey("secret", secret, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	id := &Identity{Private: ed25519.NewKeyFromSeed(seed), ProviderID: fields["provider_id"]}
	clear(seed)

	if public, ok := fields["public"]; ok {
		pub, err := decodeKey("public", public, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(pub, id.Public()) != 1 {
			return nil, errors.New("key file's public key does not match its secret; the file is damaged or was edited")
		}
	}
	if created, ok := fields["created"]; ok && created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return nil, errors.New("key file's created is not an RFC 3339 time")
		}
		id.Created = t.UTC()
	}
	if err := id.check(); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return id, nil
}

// decodeKey decodes a base64 field of n bytes. Padding is optional.
func decodeKey(field, s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("key file's %s is not valid base64", field)
	}
	if len(b) != n {
		return nil, fmt.Errorf("key file's %s is %d bytes, want %d", field, len(b), n)
	}
	return b, nil
}

// MarshalKeyFile writes id in the key-file format, which the command-line
// agent reads too. The result holds the secret: keep it out of logs.
func (id Identity) MarshalKeyFile() []byte {
	var b bytes.Buffer
	b.WriteString(keyFileBegin + "\n")
	b.WriteString("version: " + keyFileVersion + "\n")
	if !id.Created.IsZero() {
		b.WriteString("created: " + id.Created.UTC().Format(createdLayout) + "\n")
	}
	b.WriteString("secret: " + base64.StdEncoding.EncodeToString(id.Private.Seed()) + "\n")
	b.WriteString("public: " + id.PublicBase64() + "\n")
	if id.ProviderID != "" {
		b.WriteString("provider_id: " + id.ProviderID + "\n")
	}
	b.WriteString(keyFileEnd + "\n")
	return b.Bytes()
}

// ImportKeyFile reads and checks the command-line agent's identity.key, so
// that the desktop agent keeps the operator's provider id and reputation.
// A leading "~/" is the home folder, as in the command-line agent's
// key_path. It only reads; the caller saves the result to its KeyStore.
func ImportKeyFile(path string) (*Identity, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("import identity key: %w", err)
		}
		path = filepath.Join(home, rest)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import identity key: %w", err)
	}
	defer clear(data)
	id, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("import identity key %s: %w", path, err)
	}
	return id, nil
}
