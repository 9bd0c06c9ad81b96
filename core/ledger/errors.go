package ledger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kinds of failure a caller may want to tell apart; test with errors.Is.
// The errors the ledger returns carry a plain-words message meant for the
// operator, and wrap both the kind and the underlying error.
var (
	// ErrDiskFull: the disk (or the database's size limit) is full.
	ErrDiskFull = errors.New("disk full")
	// ErrCorrupt: the ledger file is not a readable database. The ledger never
	// deletes or repairs it; the operator moves it aside.
	ErrCorrupt = errors.New("ledger file damaged")
	// ErrNoAccess: the ledger file or its folder cannot be created or written.
	ErrNoAccess = errors.New("ledger not writable")
	// ErrInvalid: Record was given an entry it refuses (empty job id,
	// negative or absurd token counts or prices).
	ErrInvalid = errors.New("invalid ledger entry")
	// ErrNewerSchema: the file was written by a newer version of the agent.
	ErrNewerSchema = errors.New("ledger schema is newer than this agent")
)

// plainError is an error whose message is written for a person; it wraps the
// kind (one of the Err values above) and the cause.
type plainError struct {
	msg   string
	kind  error
	cause error
}

func (e *plainError) Error() string   { return e.msg }
func (e *plainError) Unwrap() []error { return []error{e.kind, e.cause} }

// explain turns err from an operation on the ledger at path into plain words.
// doing says what failed, e.g. "could not save the earnings record".
func explain(doing, path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	var pe *plainError
	if errors.As(err, &pe) {
		return err
	}
	code := -1
	var se *sqlite.Error
	if errors.As(err, &se) {
		code = se.Code() & 0xff // the primary result code
	}
	text := strings.ToLower(err.Error())
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(text, s) {
				return true
			}
		}
		return false
	}
	switch {
	case code == sqlite3.SQLITE_FULL || has("disk is full", "no space left"):
		return &plainError{doing + ": the disk is full — free some space", ErrDiskFull, err}
	case code == sqlite3.SQLITE_CORRUPT || code == sqlite3.SQLITE_NOTADB ||
		has("malformed", "not a database"):
		return &plainError{fmt.Sprintf("%s: the earnings ledger file %s is damaged and cannot be read — "+
			"move it aside (rename it) and restart the agent to start a new ledger; the old file is kept as it is",
			doing, path), ErrCorrupt, err}
	case code == sqlite3.SQLITE_CANTOPEN || code == sqlite3.SQLITE_READONLY || code == sqlite3.SQLITE_PERM ||
		errors.Is(err, fs.ErrPermission) || has("read-only file system", "readonly database", "unable to open"):
		return &plainError{fmt.Sprintf("%s: cannot write the earnings ledger in %s — "+
			"check that the folder exists and this user may write to it", doing, filepath.Dir(path)), ErrNoAccess, err}
	case code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%s: the earnings ledger %s is locked by another program (is a second copy of the agent running?): %w",
			doing, path, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
