package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"usepod.ai/agent/core/internal/atomicfile"
)

// KeyStore keeps the identity between runs. Load and Save block, on disk or
// on the OS keychain (which may wait on an unlock prompt, up to a timeout).
// The stores here are safe for concurrent use.
type KeyStore interface {
	// Load returns the stored identity, or ErrNotFound when there is none.
	// Blocks.
	Load(ctx context.Context) (*Identity, error)
	// Save stores id, replacing what was there. Blocks.
	Save(ctx context.Context, id *Identity) error
	// Where says in words where the key is kept, for the user:
	// "the system keychain (Secret Service)", "file /home/u/.../identity.key".
	// Does not block.
	Where() string
}

// Keyring modes, as in config.Identity.Keyring.
const (
	ModeAuto   = "auto"   // the OS keychain, else a file
	ModeSystem = "system" // the OS keychain only
	ModeFile   = "file"   // a file only; the keychain is never touched
)

// File names in the data folder.
const (
	// KeyFileName holds the key in file mode, and in auto mode where there
	// is no keychain.
	KeyFileName = "identity.key"
	// markerName records that the key lives in the keychain, so that auto
	// mode does not quietly make a second identity in a file on a day the
	// keychain is locked or slow.
	markerName = "identity.in-keychain"
)

// Where the keychain entry is.
const (
	DefaultService = "ai.usepod.agent"
	DefaultUser    = "identity"
)

// openTimeout bounds each keychain call of a store made by OpenStore.
// Tests shorten it.
var openTimeout = DefaultKeychainTimeout

// OpenStore picks the key store for a keyring mode ("" is auto):
//
//   - file: FileStore at dataDir/identity.key; the keychain is never touched.
//   - system: the OS keychain, checked with one read; if it cannot be used
//     the error (errors.Is ErrKeychainUnavailable) says so in plain words.
//   - auto: an existing dataDir/identity.key is used as it is (the key
//     lives there). Otherwise the keychain if it answers, else a FileStore,
//     with one warning logged. If the key was saved in the keychain before
//     and the keychain does not answer now, auto fails like system rather
//     than make a second identity.
//
// log gets the one warning, with component=identity added here (the
// caller gives a logger without it); it may be nil. OpenStore blocks for
// at most about DefaultKeychainTimeout.
func OpenStore(ctx context.Context, mode, dataDir string, log *slog.Logger) (KeyStore, error) {
	return openStore(ctx, mode, dataDir, componentLog(log))
}

// componentLog is log with this package's component attribute; nil
// discards.
func componentLog(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log.With("component", "identity")
}

// openStore is OpenStore with a log that has the component attribute.
func openStore(ctx context.Context, mode, dataDir string, log *slog.Logger) (KeyStore, error) {
	file := &FileStore{Path: filepath.Join(dataDir, KeyFileName)}
	marker := filepath.Join(dataDir, markerName)
	keychain := &KeychainStore{Service: DefaultService, User: DefaultUser, Timeout: openTimeout, marker: marker}

	switch mode {
	case ModeFile:
		return file, nil
	case ModeSystem:
		if err := keychain.probe(ctx); err != nil {
			return nil, unavailable(err)
		}
		return keychain, nil
	case ModeAuto, "":
		if _, err := os.Stat(file.Path); err == nil {
			return file, nil
		}
		err := keychain.probe(ctx)
		if err == nil {
			return keychain, nil
		}
		if !errors.Is(err, ErrKeychainUnavailable) {
			return nil, err
		}
		if _, statErr := os.Stat(marker); statErr == nil {
			return nil, fmt.Errorf("the identity key was saved in %s, which does not answer now: %w", keychain.Where(), unavailable(err))
		}
		log.Warn("no system keychain is available; keeping the identity key in a file", "path", file.Path, "reason", err)
		return file, nil
	default:
		return nil, fmt.Errorf("unknown keyring mode %q (want %s, %s or %s)", mode, ModeAuto, ModeSystem, ModeFile)
	}
}

// unavailable wraps a keychain error in words a user can act on.
func unavailable(err error) error {
	var hint string
	switch runtime.GOOS {
	case "darwin":
		hint = "is the login keychain unlocked?"
	case "windows":
		hint = "is Windows Credential Manager running?"
	default:
		hint = "is a Secret Service such as GNOME Keyring running and unlocked?"
	}
	return fmt.Errorf("no system keychain is available (%s); use --keyring file to keep the key in a file instead: %w", hint, err)
}

// LoadOrCreate loads the stored identity, or makes and saves a new one when
// there is none (created is then true). Any other load error, such as a
// damaged key, is returned as it is: an existing identity is never replaced.
// Blocks.
func LoadOrCreate(ctx context.Context, store KeyStore, now time.Time) (id *Identity, created bool, err error) {
	id, err = store.Load(ctx)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	if id, err = New(now); err != nil {
		return nil, false, err
	}
	if err := store.Save(ctx, id); err != nil {
		return nil, false, err
	}
	return id, true, nil
}

// FileStore keeps the key in a file in the key-file format, readable by its
// owner only (0600), as the command-line agent does.
type FileStore struct {
	Path string
	// Required: the file names a key that must exist ([identity] key_path).
	// Load then fails in plain words when it is missing, instead of
	// returning ErrNotFound, so that no new key is ever made in its place.
	Required bool
}

// Where names the file.
func (s *FileStore) Where() string { return "file " + s.Path }

// Load reads the key file. It refuses a file that other users can read
// (chmod 600 fixes it), as the command-line agent does: the key may have
// leaked. Blocks on disk I/O.
func (s *FileStore) Load(ctx context.Context) (*Identity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.Path)
	if err != nil && s.Required {
		return nil, missingRequired(s.Path, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read identity key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read identity key: %w", err)
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("identity key file %s can be read by other users (mode %04o); run: chmod 600 %s", s.Path, perm, s.Path)
	}
	const maxKeyFile = 64 << 10
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("read identity key: %w", err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("identity key file %s is too large to be a key", s.Path)
	}
	id, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("identity key file %s: %w", s.Path, err)
	}
	return id, nil
}

// Save writes the key file whole (temporary file, fsync, rename), 0600, in
// a 0700 folder. Blocks on disk I/O.
func (s *FileStore) Save(ctx context.Context, id *Identity) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := id.check(); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	data := id.MarshalKeyFile()
	defer clear(data)
	if err := atomicfile.Write(s.Path, data, 0o600); err != nil {
		return fmt.Errorf("save identity key: %w", err)
	}
	return nil
}

// Delete removes the key file; a missing file is not an error. Blocks.
func (s *FileStore) Delete(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete identity key: %w", err)
	}
	return nil
}
