package identity

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileRoundTrip(t *testing.T) {
	for _, provider := range []string{"", "prov_01JH8Z"} {
		id := newIdentity(t)
		id.ProviderID = provider
		got, err := ParseKeyFile(id.MarshalKeyFile())
		if err != nil {
			t.Fatal(err)
		}
		if !sameIdentity(got, id) {
			t.Errorf("round trip changed the identity: %v, want %v", got, id)
		}
	}
}

func TestMarshalKeyFileFormat(t *testing.T) {
	id := newIdentity(t)
	id.ProviderID = "prov_1"
	seed := base64.StdEncoding.EncodeToString(id.Private.Seed())
	want := "-----BEGIN USEPOD AGENT KEY-----\n" +
		"version: 1\n" +
		"created: 2026-01-02T02:04:05+00:00\n" +
		"secret: " + seed + "\n" +
		"public: " + id.PublicBase64() + "\n" +
		"provider_id: prov_1\n" +
		"-----END USEPOD AGENT KEY-----\n"
	if string(id.MarshalKeyFile()) != want {
		t.Error("key file text differs from the command-line agent's format") // not printed: it holds the key
	}
	id.ProviderID = ""
	if strings.Contains(string(id.MarshalKeyFile()), "provider_id") {
		t.Error("provider_id written before enrollment")
	}
}

// sample writes the command-line agent's format by hand, as docs/protocol.md
// section 9 shows it, with the given lines between the markers.
func sample(lines ...string) []byte {
	return []byte("-----BEGIN USEPOD AGENT KEY-----\n" + strings.Join(lines, "\n") + "\n-----END USEPOD AGENT KEY-----\n")
}

func TestParseKeyFileSample(t *testing.T) {
	id := newIdentity(t)
	secret := "secret: " + base64.StdEncoding.EncodeToString(id.Private.Seed())
	public := "public: " + id.PublicBase64()

	t.Run("as the command-line agent writes it", func(t *testing.T) {
		got, err := ParseKeyFile(sample("version: 1", "created: 2026-01-02T03:04:05+00:00", secret, public, "provider_id: prov_abc"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Private) != string(id.Private) || got.ProviderID != "prov_abc" ||
			got.Created.Format("2006-01-02T15:04:05Z07:00") != "2026-01-02T03:04:05Z" {
			t.Errorf("parsed %v created %v", got, got.Created)
		}
	})
	t.Run("unknown lines, comments, CRLF and text around the markers", func(t *testing.T) {
		text := "saved by usepod-agent 0.3.1\n" +
			string(sample("version: 1", "comment: my rig", "x-future-field: 42", "", "# note", secret, public, "created: 2026-01-02T03:04:05Z")) +
			"trailing text\n"
		got, err := ParseKeyFile([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Private) != string(id.Private) || got.ProviderID != "" {
			t.Errorf("parsed %v", got)
		}
	})
	t.Run("no public line", func(t *testing.T) {
		got, err := ParseKeyFile(sample("version: 1", secret))
		if err != nil || string(got.Private) != string(id.Private) || !got.Created.IsZero() {
			t.Errorf("parsed %v, %v", got, err)
		}
	})
	t.Run("unpadded base64", func(t *testing.T) {
		got, err := ParseKeyFile(sample("secret: " + base64.RawStdEncoding.EncodeToString(id.Private.Seed())))
		if err != nil || string(got.Private) != string(id.Private) {
			t.Errorf("parsed %v, %v", got, err)
		}
	})
}

func TestParseKeyFileRefuses(t *testing.T) {
	id := newIdentity(t)
	secretB64 := base64.StdEncoding.EncodeToString(id.Private.Seed())
	secret := "secret: " + secretB64
	public := "public: " + id.PublicBase64()
	otherPublic := "public: " + newIdentity(t).PublicBase64()

	tests := []struct {
		name string
		data []byte
		want string // in the error
	}{
		{"public key of another secret", sample("version: 1", secret, otherPublic), "does not match"},
		{"no secret", sample("version: 1", public), "no secret"},
		{"empty secret", sample("secret:", public), "no secret"},
		{"secret not base64", sample("secret: !!"+secretB64[2:], public), "secret is not valid base64"},
		{"secret too short", sample("secret: " + base64.StdEncoding.EncodeToString(id.Private.Seed()[:16])), "secret is 16 bytes, want 32"},
		{"secret is the 64-byte key", sample("secret: " + base64.StdEncoding.EncodeToString(id.Private)), "secret is 64 bytes, want 32"},
		{"public not base64", sample(secret, "public: %%%"), "public is not valid base64"},
		{"public wrong length", sample(secret, "public: "+base64.StdEncoding.EncodeToString(id.Private)), "public is 64 bytes, want 32"},
		{"secret twice", sample(secret, secret), "secret twice"},
		{"version 2", sample("version: 2", secret), `version "2" is not supported`},
		{"bad created", sample(secret, "created: yesterday"), "created"},
		{"line without a colon", sample(secret, "garbage"), "line 3"},
		{"control character in provider id", sample(secret, "provider_id: a\x01b"), "control character"},
		{"no markers", []byte(secret + "\n" + public + "\n"), "BEGIN"},
		{"cut short", []byte("-----BEGIN USEPOD AGENT KEY-----\n" + secret + "\n"), "END"},
		{"empty", nil, "BEGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeyFile(tt.data)
			if err == nil {
				t.Fatalf("accepted: %v", got)
			}
			assertNoSecret(t, id, err.Error())
			if strings.Contains(err.Error(), secretB64[:12]) {
				t.Fatal("error shows part of the secret")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestImportKeyFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	id := newIdentity(t)
	id.ProviderID = "prov_imported"
	dir := filepath.Join(home, ".usepod-agent")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "identity.key")
	if err := os.WriteFile(path, id.MarshalKeyFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, "~/.usepod-agent/identity.key"} {
		got, err := ImportKeyFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIdentity(got, id) {
			t.Errorf("ImportKeyFile(%s) = %v, want %v", p, got, id)
		}
	}
	if _, err := ImportKeyFile(filepath.Join(home, "missing.key")); err == nil {
		t.Error("imported a missing file")
	}
	bad := filepath.Join(home, "bad.key")
	os.WriteFile(bad, sample("secret: "+base64.StdEncoding.EncodeToString(id.Private.Seed()), "public: "+newIdentity(t).PublicBase64()), 0o600)
	_, err := ImportKeyFile(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("err = %v: want the path and the mismatch", err)
	}
}
