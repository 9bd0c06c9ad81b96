package identity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// OpenConfigured picks the key store for the config's [identity] section.
//
// With no key_path it is OpenStore. With a key_path, which the
// command-line agent's agent.toml sets, the key is used in place: a
// FileStore on that file, in the command-line agent's format, which gets
// the provider id written back into it. The file must exist and be a valid
// key, else the error says so: a new key is never made elsewhere, since it
// would send the enrollment code the command-line agent already used under
// a key the coordinator does not know. `usepod-agent import` remains the
// way to move the key into the keychain.
//
// One exception: when the data folder already holds this agent's own
// identity (a key file, or the note that it lives in the keychain) and it
// is the same key, it was imported, and the own store is used. A different
// own key is an error: the user must choose.
//
// log is as for OpenStore. It blocks like OpenStore, and reads the key
// files.
func OpenConfigured(ctx context.Context, mode, keyPath, dataDir string, log *slog.Logger) (KeyStore, error) {
	log = componentLog(log)
	if keyPath == "" {
		return openStore(ctx, mode, dataDir, log)
	}
	path, err := expandKeyPath(keyPath)
	if err != nil {
		return nil, err
	}
	theirs := &FileStore{Path: path, Required: true}
	id, err := theirs.Load(ctx)
	if err != nil {
		return nil, err
	}
	own := filepath.Join(dataDir, KeyFileName)
	if same, _ := sameFile(own, path); same || !hasOwnIdentity(dataDir) {
		return theirs, nil
	}
	store, err := openStore(ctx, mode, dataDir, log)
	if err != nil {
		return nil, err
	}
	ownID, err := store.Load(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		return theirs, nil
	case err != nil:
		return nil, err
	case ownID.PublicBase64() != id.PublicBase64():
		return nil, fmt.Errorf("two identities: [identity] key_path names %s (public key %s), but this computer already has its own (public key %s) in %s; "+
			"run `usepod-agent import --force` to take over the command-line agent's key, or remove key_path from agent.toml to keep this computer's own",
			path, id.PublicBase64(), ownID.PublicBase64(), store.Where())
	}
	log.Info("the key named by [identity] key_path was imported; using the imported copy", "key_path", path, "kept_in", store.Where())
	return store, nil
}

// hasOwnIdentity reports whether dataDir holds the agent's own identity: a
// key file, or the note that the key was saved in the keychain.
func hasOwnIdentity(dataDir string) bool {
	for _, name := range []string{KeyFileName, markerName} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			return true
		}
	}
	return false
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// expandKeyPath turns a leading "~/" into the home folder, as the
// command-line agent does.
func expandKeyPath(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("[identity] key_path %s: %w", p, err)
	}
	return filepath.Join(home, rest), nil
}

// missingRequired is the Load error of a Required FileStore whose file
// cannot be opened.
func missingRequired(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the identity key file %s, named by [identity] key_path in agent.toml, does not exist; "+
			"restore it, or remove key_path to let this agent make its own key (which needs a new enrollment code)", path)
	}
	return fmt.Errorf("read the identity key file %s named by [identity] key_path: %w", path, err)
}
