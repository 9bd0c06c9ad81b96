package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Names of the desktop agent's folder and settings file.
const (
	dirName  = "usepod-agent"
	fileName = "agent.toml"
)

// DefaultDataDir is the agent's own folder: <user config dir>/usepod-agent
// (~/.config/usepod-agent on Linux, ~/Library/Application Support/usepod-agent
// on macOS, %AppData%\usepod-agent on Windows).
func DefaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config folder: %w", err)
	}
	return filepath.Join(dir, dirName), nil
}

// Path is where the settings file lives: DefaultDataDir()/agent.toml.
func Path() (string, error) {
	dir, err := DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fileName), nil
}

// File is a config as read from disk.
type File struct {
	Path string
	// Exists is false when there was no file; Config is then Default().
	Exists bool
	// Config holds the file's values over Default(), normalized, not yet
	// validated.
	Config Config
	// Warnings name the keys the agent does not know, with their lines, e.g.
	// "/home/u/.config/usepod-agent/agent.toml line 3: unknown key operator.nickname is ignored".
	// Unknown keys are not an error, so that a file written by a newer agent
	// or the command-line agent still loads; the caller may log these.
	Warnings []string

	keys keyLines // where each key is written, for the lines of errors
}

// LoadFile reads a config file without validating it, so that the caller can
// apply command-line flags first and then call File.Validate. A missing file
// is not an error: it gives Default() with Exists false. A file that is not
// TOML gives a *SyntaxError; a value of the wrong type (a word where a number
// belongs) gives a *ValidationError. Both name the file, the line and the
// key. LoadFile never writes: a broken file stays as it is until an explicit
// Save of a valid config.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Path: path, Config: Default()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	src := strings.TrimPrefix(string(data), "\ufeff") // some Windows editors add a BOM

	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		return nil, syntaxError(path, src, err)
	}
	f := &File{Path: path, Exists: true, keys: indexKeys(src)}

	// Check the types first: BurntSushi/toml's own type errors name neither
	// the array element nor, for arrays of tables, the right line.
	var tc typeChecker
	tc.check(reflect.TypeFor[Config](), raw, nil)
	if len(tc.errs) > 0 {
		return nil, (&ValidationError{Errors: tc.errs}).withLines(path, f.keys)
	}
	for _, p := range tc.unknown {
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s line %d: unknown key %s is ignored", path, f.keys.lineOf(p), p))
	}

	cfg := Default()
	if _, err := toml.Decode(src, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err) // not expected once the types check out
	}
	cfg.Normalize()
	f.Config = cfg
	if w := secretsReadable(path, cfg); w != "" {
		f.Warnings = append(f.Warnings, w)
	}
	return f, nil
}

// secretsReadable warns when the file holds an enrollment code or a backend
// API key and other users of the computer may read it. Save writes 0600; a
// file the user wrote may not be.
func secretsReadable(path string, c Config) string {
	if runtime.GOOS == "windows" {
		return "" // no mode bits; the folder's ACL decides
	}
	var what []string
	if c.Coordinator.EnrollmentCode != "" {
		what = append(what, "an enrollment code")
	}
	for _, b := range c.Backends {
		if b.APIKey != "" {
			what = append(what, "a backend API key")
			break
		}
	}
	st, err := os.Stat(path)
	if len(what) == 0 || err != nil || st.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s holds %s and other users of this computer can read it (mode %04o); run: chmod 600 %s",
		path, strings.Join(what, " and "), st.Mode().Perm(), path)
}

// Validate checks f.Config (see Config.Validate) and, on failure, returns a
// *ValidationError that names f.Path and the line of each key.
func (f *File) Validate() error {
	err := f.Config.Validate()
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		return ve.withLines(f.Path, f.keys)
	}
	return err
}

// Load reads and validates a config file: LoadFile, then File.Validate.
// A missing file gives Default() and no error. On a *ValidationError the
// returned Config holds the file's values, so a settings dialog can show
// them next to the errors; on any other error it is Default().
func Load(path string) (Config, error) {
	f, err := LoadFile(path)
	if err != nil {
		return Default(), err
	}
	return f.Config, f.Validate()
}

// SyntaxError says a config file is not valid TOML.
type SyntaxError struct {
	Path   string
	Line   int // 1-based
	Column int // 1-based, 0 when not known
	// Key is the key whose value could not be read, "" when not known.
	Key     string
	Message string
}

// Error reads, e.g.:
// /home/u/.config/usepod-agent/agent.toml line 7, column 18: limits.max_concurrent: expected a whole number, got "eight".
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path + " line " + strconv.Itoa(e.Line))
	if e.Column > 0 {
		b.WriteString(", column " + strconv.Itoa(e.Column))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

var quotedRE = regexp.MustCompile(`"[^"]*"|'[^']*'`)

// syntaxError turns the TOML parser's error into plain words.
func syntaxError(path, src string, err error) error {
	pe, ok := errors.AsType[toml.ParseError](err)
	if !ok {
		return fmt.Errorf("%s: %w", path, err)
	}
	se := &SyntaxError{Path: path, Line: pe.Position.Line, Message: pe.Message}
	if off := pe.Position.Start; off >= 0 && off <= len(src) {
		// Count from the offset: the parser puts an error at a line's end
		// on the next line.
		start := strings.LastIndexByte(src[:off], '\n') + 1
		se.Line = strings.Count(src[:start], "\n") + 1
		se.Column = utf8.RuneCountInString(src[start:off]) + 1
	}
	names := splitKey(pe.LastKey)
	secret := isSecretKey(names)
	switch {
	case strings.HasPrefix(pe.Message, "expected value but found") && len(names) > 0:
		// A bare word where a value belongs: max_concurrent = eight.
		se.Key = pe.LastKey
		se.Message = "expected " + describeType(schemaType(names))
		if tok := token(src, pe.Position); tok != "" && !secret {
			se.Message += ", got " + strconv.Quote(tok)
		}
	case strings.HasSuffix(pe.Message, "has already been defined."):
		se.Key = pe.LastKey
		se.Message = "is set more than once"
	case pe.LastKey != "":
		se.Message += " (after key " + pe.LastKey + ")"
	}
	if secret { // never show any part of an enrollment code or API key
		se.Message = quotedRE.ReplaceAllString(se.Message, `"…"`)
	}
	return se
}

// token is the text the parser stopped at, shortened for a message.
func token(src string, pos toml.Position) string {
	if pos.Start < 0 || pos.Len <= 0 || pos.Start+pos.Len > len(src) {
		return ""
	}
	return shorten(src[pos.Start : pos.Start+pos.Len])
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// splitKey splits a dotted key as the TOML parser prints it.
func splitKey(k string) []string {
	if k == "" {
		return nil
	}
	s := &keyScanner{src: k}
	return s.keyNames()
}

// isSecretKey reports whether a key holds a credential whose value must not
// appear in messages.
func isSecretKey(names []string) bool {
	if len(names) == 0 {
		return false
	}
	switch names[len(names)-1] {
	case "enrollment_code", "api_key":
		return true
	}
	return false
}

// schemaType is the Go type that a key decodes into; nil when the key is not
// one the agent knows. Array indexes are not part of names.
func schemaType(names []string) reflect.Type {
	t := reflect.TypeFor[Config]()
	for _, n := range names {
		for t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByKey(t, n)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	return t
}

// fieldByKey finds the struct field for a TOML key as BurntSushi/toml does:
// the exact name first, else one that differs only in case.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if !found && strings.EqualFold(name, key) {
			fold, found = f, true
		}
	}
	return fold, found
}

// describeType says in words what a value of type t is written as.
func describeType(t reflect.Type) string {
	if t == nil {
		return "a value (text goes in double quotes)"
	}
	switch t.Kind() {
	case reflect.String:
		return "text in double quotes"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "a table"
	case reflect.Slice:
		return "a list in [brackets]"
	}
	return "a value"
}

// describeValue says in words what a decoded TOML value is; with secret, it
// gives the kind of value only.
func describeValue(v any, secret bool) string {
	switch v := v.(type) {
	case string:
		if secret {
			return "text"
		}
		return strconv.Quote(shorten(v))
	case int64:
		if secret {
			return "a number"
		}
		return strconv.FormatInt(v, 10)
	case float64:
		if secret {
			return "a number"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		if secret {
			return "true or false"
		}
		return strconv.FormatBool(v)
	case map[string]any:
		return "a table"
	}
	if reflect.ValueOf(v).Kind() == reflect.Slice {
		return "a list"
	}
	return "a date or time"
}

// typeChecker compares a decoded TOML document with the Config struct.
type typeChecker struct {
	errs    []FieldError
	unknown []keyPath // keys with no field; ignored
}

func (tc *typeChecker) check(t reflect.Type, v any, p keyPath) {
	ok := true
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				f, known := fieldByKey(t, k)
				if !known {
					tc.unknown = append(tc.unknown, p.key(k))
					continue
				}
				tc.check(f.Type, m[k], p.key(k))
			}
		}
	case reflect.Map:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				tc.check(t.Elem(), m[k], p.key(k))
			}
		}
	case reflect.Slice:
		rv := reflect.ValueOf(v)
		if ok = rv.Kind() == reflect.Slice; ok {
			for i := range rv.Len() {
				tc.check(t.Elem(), rv.Index(i).Interface(), p.at(i))
			}
		}
	case reflect.String:
		_, ok = v.(string)
	case reflect.Int, reflect.Int64:
		_, ok = v.(int64)
	case reflect.Bool:
		_, ok = v.(bool)
	}
	if !ok {
		tc.errs = append(tc.errs, FieldError{
			Key:     p.String(),
			Message: "expected " + describeType(t) + ", got " + describeValue(v, isSecretKey([]string{p.last()})),
			path:    p,
		})
	}
}
