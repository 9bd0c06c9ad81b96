package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// DefaultKeychainTimeout bounds each keychain call: long enough for a
// Secret Service to start on demand, short enough that a locked or missing
// one does not stall the agent's start.
const DefaultKeychainTimeout = 5 * time.Second

// ErrKeychainUnavailable says the OS keychain could not be used: there is
// none, it did not answer in time, or it is locked. Errors that match it
// with errors.Is also wrap the cause.
var ErrKeychainUnavailable = errors.New("system keychain unavailable")

// KeychainStore keeps the key in the OS keychain (Secret Service on Linux,
// the macOS keychain, Windows Credential Manager) through
// github.com/zalando/go-keyring. The secret is the key-file text, so the
// provider id travels with the key.
//
// Every call gives up after Timeout and returns an error matching
// ErrKeychainUnavailable: a locked keychain whose unlock prompt nobody
// answers, or a Secret Service that never replies, never hangs the caller.
// The abandoned call may finish later in the background; at most one call
// is in flight per process, so such calls do not pile up.
type KeychainStore struct {
	Service string        // e.g. DefaultService
	User    string        // e.g. DefaultUser
	Timeout time.Duration // for each call; 0 means DefaultKeychainTimeout

	// marker, when set, is a file written after each Save, recording that
	// the key lives in the keychain (see OpenStore).
	marker string
}

// keyringAPI is the part of go-keyring the store uses.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

// systemKeyring is the real keychain; tests replace it with a fake.
var systemKeyring keyringAPI = goKeyring{}

// keychainSlot holds the one keychain call allowed in flight.
var keychainSlot = make(chan struct{}, 1)

// Where names the keychain in words.
func (s *KeychainStore) Where() string {
	switch runtime.GOOS {
	case "darwin":
		return "the macOS keychain"
	case "windows":
		return "Windows Credential Manager"
	default:
		return "the system keychain (Secret Service)"
	}
}

// Load reads the key from the keychain; ErrNotFound when the entry does
// not exist. Blocks for at most Timeout.
func (s *KeychainStore) Load(ctx context.Context) (*Identity, error) {
	text, err := keychainCall(ctx, s, "read the system keychain", func(k keyringAPI) (string, error) {
		return k.Get(s.Service, s.User)
	})
	if err != nil {
		return nil, err
	}
	data := []byte(text)
	defer clear(data)
	id, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("identity key in %s: %w", s.Where(), err)
	}
	return id, nil
}

// Save stores the key in the keychain, replacing the entry. Blocks for at
// most Timeout (plus a small file write).
func (s *KeychainStore) Save(ctx context.Context, id *Identity) error {
	if err := id.check(); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	secret := string(id.MarshalKeyFile())
	if _, err := keychainCall(ctx, s, "write the system keychain", func(k keyringAPI) (struct{}, error) {
		return struct{}{}, k.Set(s.Service, s.User, secret)
	}); err != nil {
		return err
	}
	if s.marker == "" {
		return nil
	}
	note := fmt.Sprintf("The identity key of this Use Pod agent is kept in %s (service %q, account %q), not in a file.\n",
		s.Where(), s.Service, s.User)
	if err := os.MkdirAll(filepath.Dir(s.marker), 0o700); err != nil {
		return fmt.Errorf("note where the identity key is: %w", err)
	}
	if err := os.WriteFile(s.marker, []byte(note), 0o600); err != nil {
		return fmt.Errorf("note where the identity key is: %w", err)
	}
	return nil
}

// Delete removes the entry; a missing one is not an error. Blocks for at
// most Timeout.
func (s *KeychainStore) Delete(ctx context.Context) error {
	_, err := keychainCall(ctx, s, "delete from the system keychain", func(k keyringAPI) (struct{}, error) {
		return struct{}{}, k.Delete(s.Service, s.User)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if s.marker != "" {
		if err := os.Remove(s.marker); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete identity key note: %w", err)
		}
	}
	return nil
}

// probe checks that the keychain answers: a read that finds nothing is fine.
func (s *KeychainStore) probe(ctx context.Context) error {
	_, err := keychainCall(ctx, s, "read the system keychain", func(k keyringAPI) (string, error) {
		_, err := k.Get(s.Service, s.User)
		return "", err // the secret itself is not needed
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// keychainCall runs f on its own goroutine and waits for it, for ctx, or
// for the store's timeout, whichever comes first.
func keychainCall[T any](ctx context.Context, s *KeychainStore, op string, f func(keyringAPI) (T, error)) (T, error) {
	var zero T
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultKeychainTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	select {
	case keychainSlot <- struct{}{}:
	case <-tctx.Done():
		if err := ctx.Err(); err != nil {
			return zero, fmt.Errorf("%s: %w", op, err)
		}
		return zero, fmt.Errorf("%s: %w: an earlier call has had no answer for over %v", op, ErrKeychainUnavailable, timeout)
	}

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call still finishes
	ring := systemKeyring
	go func() {
		defer func() { <-keychainSlot }()
		v, err := f(ring)
		done <- result{v, err}
	}()

	select {
	case r := <-done:
		return r.v, classify(op, r.err)
	case <-tctx.Done():
		if err := ctx.Err(); err != nil {
			return zero, fmt.Errorf("%s: %w", op, err)
		}
		return zero, fmt.Errorf("%s: %w: no answer within %v (a locked keychain waiting for its password?)", op, ErrKeychainUnavailable, timeout)
	}
}

// classify maps go-keyring's errors to ours. Short of "not found" and "too
// big", every error means the keychain cannot be used now: on Linux they
// come from D-Bus (no session bus, no Secret Service, a dismissed unlock
// prompt), elsewhere from the OS keychain tool.
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("%s: %w", op, err)
	default:
		return fmt.Errorf("%s: %w: %w", op, ErrKeychainUnavailable, err)
	}
}

// goKeyring is the real keychain through go-keyring.
type goKeyring struct{}

func (goKeyring) Get(service, user string) (string, error) {
	if err := checkSessionBus(); err != nil {
		return "", err
	}
	return keyring.Get(service, user)
}

func (goKeyring) Set(service, user, secret string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Set(service, user, secret)
}

func (goKeyring) Delete(service, user string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Delete(service, user)
}
