package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// writeConfig writes src to a fresh agent.toml and returns its path.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineOf is the 1-based line of the first occurrence of sub in src.
func lineOf(t *testing.T, src, sub string) int {
	t.Helper()
	i := strings.Index(src, sub)
	if i < 0 {
		t.Fatalf("%q not in source", sub)
	}
	return strings.Count(src[:i], "\n") + 1
}

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "agent.toml")
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Exists {
		t.Error("Exists = true for a missing file")
	}
	if !reflect.DeepEqual(f.Config, Default()) {
		t.Errorf("config = %+v, want defaults", f.Config)
	}
	cfg, err := Load(path)
	if err != nil || !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load = %+v, %v; want defaults, nil", cfg, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Error("Load created the config folder; it must never write")
	}
}

func TestLoadEmptyFileGivesDefaults(t *testing.T) {
	for name, src := range map[string]string{"empty": "", "comments": "# nothing here\n\n", "bom": "\ufeff"} {
		t.Run(name, func(t *testing.T) {
			f, err := LoadFile(writeConfig(t, src))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Exists {
				t.Error("Exists = false")
			}
			if !reflect.DeepEqual(f.Config, Default()) {
				t.Errorf("config = %+v, want defaults", f.Config)
			}
			if err := f.Validate(); err != nil {
				t.Errorf("defaults do not validate: %v", err)
			}
		})
	}
}

func TestLoadKeepsDefaultsForAbsentKeys(t *testing.T) {
	cfg, err := Load(writeConfig(t, "[limits]\nmax_concurrent = 4\n\n[pricing]\ndefault_output_per_1m = 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Limits.MaxConcurrent = 4
	want.Pricing.DefaultOutputPer1M = 5
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
}

func TestLoadCommandLineAgentFile(t *testing.T) {
	// A private copy, as the command-line agent's file would be: git keeps
	// testdata 0644, which earns a warning of its own (it holds a code).
	data, err := os.ReadFile("testdata/cli-agent.toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("the command-line agent's file does not validate: %v", err)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings: %q", f.Warnings)
	}
	c := f.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"display_name", c.Operator.DisplayName, "Rack 7 in the garage"},
		{"wallet", c.Operator.Wallet, "0x52908400098527886E0F7030069857D2E4169EE7"},
		{"contact_email", c.Operator.ContactEmail, "ops@example.com"},
		{"url", c.Coordinator.URL, DefaultCoordinatorURL},
		{"enrollment code prefix", strings.HasPrefix(c.Coordinator.EnrollmentCode, EnrollmentPrefix), true},
		{"key_path", c.Identity.KeyPath, "~/.usepod-agent/identity.key"},
		{"keyring keeps its default", c.Identity.Keyring, KeyringAuto},
		{"backends", len(c.Backends), 3},
		{"backend kinds", []string{c.Backends[0].Kind, c.Backends[1].Kind, c.Backends[2].Kind}, []string{KindVLLM, KindOllama, KindLlamaCpp}},
		{"backend 0 url", c.Backends[0].URL, "http://127.0.0.1:8000"},
		{"allow-list", c.Backends[0].Models, []string{"meta-llama/Llama-3.1-8B-Instruct"}},
		{"no allow-list", c.Backends[1].Models, []string(nil)},
		{"default input price", c.Pricing.DefaultInputPer1M, int64(100000)},
		{"model price", c.PriceFor("qwen2.5:7b"), ModelPricing{InputPer1M: 60000, OutputPer1M: 180000}},
		{"max_concurrent", c.Limits.MaxConcurrent, 8},
		{"max_tokens_per_minute", c.Limits.MaxTokensPerMinute, 200000},
		{"prometheus_addr", c.Observability.PrometheusAddr, "127.0.0.1:9464"},
		{"log_level", c.Observability.LogLevel, "info"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadUnknownKeysAreWarnings(t *testing.T) {
	src := "[operator]\nnickname = \"x\"\n\n[limits]\nmax_concurrent = 3\n\n[future]\nthing = 1\n"
	path := writeConfig(t, src)
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + " line 7: unknown key future is ignored",
		path + " line 2: unknown key operator.nickname is ignored",
	}
	if !reflect.DeepEqual(f.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", f.Warnings, want)
	}
	if f.Config.Limits.MaxConcurrent != 3 {
		t.Errorf("max_concurrent = %d, want 3", f.Config.Limits.MaxConcurrent)
	}
}

func TestLoadSyntaxErrorNamesFileLineAndKey(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		line    int
		column  int
		key     string
		message string
	}{
		{
			name:    "bare word for a number",
			src:     "[operator]\ndisplay_name = \"a\"\n\n[limits]\nmax_concurrent = eight\n",
			line:    5,
			column:  18,
			key:     "limits.max_concurrent",
			message: `expected a whole number, got "eight"`,
		},
		{
			name:    "bare word for text",
			src:     "[operator]\ndisplay_name = Rack\n",
			line:    2,
			column:  16,
			key:     "operator.display_name",
			message: `expected text in double quotes, got "Rack"`,
		},
		{
			name:    "key set twice",
			src:     "[limits]\nmax_concurrent = 8\nmax_concurrent = 9\n",
			line:    3,
			key:     "limits.max_concurrent",
			message: "is set more than once",
		},
		{
			name: "unclosed table header",
			src:  "[operator]\ndisplay_name = \"a\"\n[limits\nmax_concurrent = 8\n",
			line: 3,
		},
		{
			name: "unterminated string",
			src:  "[operator]\ndisplay_name = \"a\n",
			line: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src)
			_, err := Load(path)
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *SyntaxError", err, err)
			}
			if se.Path != path || se.Line != tt.line {
				t.Errorf("at %s line %d, want %s line %d", se.Path, se.Line, path, tt.line)
			}
			if tt.column != 0 && se.Column != tt.column {
				t.Errorf("column = %d, want %d", se.Column, tt.column)
			}
			if tt.key != "" && se.Key != tt.key {
				t.Errorf("key = %q, want %q", se.Key, tt.key)
			}
			if tt.message != "" && se.Message != tt.message {
				t.Errorf("message = %q, want %q", se.Message, tt.message)
			}
			prefix := path + " line " + strconv.Itoa(tt.line)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

func TestLoadSyntaxErrorHidesEnrollmentCode(t *testing.T) {
	for _, src := range []string{
		"[coordinator]\nenrollment_code = POD-ENROLL-SECRETCODE\n",
		"[coordinator]\nenrollment_code = \"POD-ENROLL-SECRETCODE\" SECRETCODE\n",
		"[[backends]]\nkind = \"vllm\"\nurl = \"http://x\"\napi_key = SECRETCODE\n",
	} {
		_, err := Load(writeConfig(t, src))
		if err == nil {
			t.Fatalf("no error for %q", src)
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "POD-ENROLL-S") {
			t.Errorf("error shows the secret: %s", strings.ReplaceAll(err.Error(), "SECRET", "<redacted>"))
		}
	}
}

func TestLoadTypeErrorNamesKeyAndLine(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		key     string
		lineOf  string // the line holding this text is the expected line
		message string
	}{
		{
			name:    "text for a number",
			src:     "[limits]\nmax_concurrent = \"eight\"\n",
			key:     "limits.max_concurrent",
			lineOf:  "max_concurrent",
			message: `expected a whole number, got "eight"`,
		},
		{
			name:    "fraction for a number",
			src:     "[pricing]\ndefault_input_per_1m = 0.5\n",
			key:     "pricing.default_input_per_1m",
			lineOf:  "default_input_per_1m",
			message: "expected a whole number, got 0.5",
		},
		{
			name:    "in the second of an array of tables",
			src:     "[[backends]]\nkind = \"vllm\"\nurl = \"http://a\"\n\n[[backends]]\nkind = \"ollama\"\nurl = 11434\n",
			key:     "backends[1].url",
			lineOf:  "url = 11434",
			message: "expected text in double quotes, got 11434",
		},
		{
			name:    "in an inline table",
			src:     "[pricing.models]\n\"a\" = { input_per_1m = 1, output_per_1m = 2 }\n\"llama3:8b\" = { input_per_1m = \"cheap\", output_per_1m = 2 }\n",
			key:     `pricing.models."llama3:8b".input_per_1m`,
			lineOf:  "llama3:8b",
			message: `expected a whole number, got "cheap"`,
		},
		{
			name:    "list for text",
			src:     "[observability]\nlog_level = [\"info\"]\n",
			key:     "observability.log_level",
			lineOf:  "log_level",
			message: "expected text in double quotes, got a list",
		},
		{
			name:    "table for a list",
			src:     "[backends]\nkind = \"vllm\"\n",
			key:     "backends",
			lineOf:  "[backends]",
			message: "expected a list in [brackets], got a table",
		},
		{
			name:    "number for the enrollment code is not echoed",
			src:     "[coordinator]\nenrollment_code = 20260102\n",
			key:     "coordinator.enrollment_code",
			lineOf:  "enrollment_code",
			message: "expected text in double quotes, got a number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src)
			_, err := Load(path)
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *ValidationError", err, err)
			}
			if len(ve.Errors) != 1 {
				t.Fatalf("errors = %v, want one", ve.Errors)
			}
			fe := ve.Errors[0]
			line := lineOf(t, tt.src, tt.lineOf)
			if fe.Key != tt.key || fe.Line != line || fe.Message != tt.message {
				t.Errorf("got %q line %d %q\nwant %q line %d %q", fe.Key, fe.Line, fe.Message, tt.key, line, tt.message)
			}
			want := path + " line " + strconv.Itoa(line) + ": " + tt.key + ": " + tt.message
			if err.Error() != want {
				t.Errorf("error = %q\nwant    %q", err, want)
			}
		})
	}
}

func TestLoadValidationErrorNamesKeyAndLine(t *testing.T) {
	src := `[operator]
wallet = "0x123"

[coordinator]
url = "ws://localhost:8080/provider/connect"

[[backends]]
kind = "ollama"
url = "http://localhost:11434"

[[backends]]
kind = "tgi"
url = "http://localhost:8080"

[[backends]]
kind = "vllm"

[limits]
max_concurrent = 0
`
	path := writeConfig(t, src)
	cfg, err := Load(path)
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	type got struct {
		Key  string
		Line int
	}
	want := []got{
		{"operator.wallet", lineOf(t, src, "wallet")},
		{"coordinator.url", lineOf(t, src, "url = \"ws://")},
		{"backends[1].kind", lineOf(t, src, `"tgi"`)},
		{"backends[2].url", lineOf(t, src, "[[backends]]\nkind = \"vllm\"")}, // missing: its table's line
		{"limits.max_concurrent", lineOf(t, src, "max_concurrent")},
	}
	var have []got
	for _, fe := range ve.Errors {
		have = append(have, got{fe.Key, fe.Line})
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("errors at\n%v\nwant\n%v", have, want)
	}
	wantLine := path + " line 19: limits.max_concurrent: must be between 1 and 256, got 0"
	if !strings.Contains(err.Error(), wantLine) {
		t.Errorf("error text\n%s\nlacks %q", err, wantLine)
	}
	if msgs := ve.For("limits.max_concurrent"); len(msgs) != 1 {
		t.Errorf("For(limits.max_concurrent) = %q", msgs)
	}
	// The decoded values come back for a settings dialog to show.
	if cfg.Limits.MaxConcurrent != 0 || len(cfg.Backends) != 3 {
		t.Errorf("Load did not return the file's values: %+v", cfg)
	}
}

func TestFileValidateAfterFlags(t *testing.T) {
	f, err := LoadFile(writeConfig(t, "[coordinator]\nurl = \"ws://127.0.0.1:9000/provider/connect\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err == nil {
		t.Fatal("ws:// accepted without allow_insecure")
	}
	f.Config.Coordinator.AllowInsecure = true // as --allow-insecure would
	if err := f.Validate(); err != nil {
		t.Fatalf("ws:// refused with allow_insecure: %v", err)
	}
}

func TestLoadNeverChangesACorruptFile(t *testing.T) {
	for name, src := range map[string]string{
		"not toml":      "this is not = = toml\n\x00\x01",
		"wrong type":    "[limits]\nmax_concurrent = \"lots\"\n",
		"invalid value": "[limits]\nmax_concurrent = 100000\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, src)
			before, _ := os.Stat(path)
			if _, err := Load(path); err == nil {
				t.Fatal("no error")
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.Stat(path)
			if string(data) != src || !after.ModTime().Equal(before.ModTime()) {
				t.Error("Load changed the file")
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("Load left files behind: %v", entries)
			}
		})
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir() // a folder where the file should be
	if _, err := Load(dir); err == nil {
		t.Error("no error reading a folder as the config")
	}
}

func TestPaths(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	t.Setenv("HOME", "/tmp/home")
	t.Setenv("AppData", `C:\Users\u\AppData\Roaming`)
	base, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := DefaultDataDir()
	if err != nil || dir != filepath.Join(base, "usepod-agent") {
		t.Errorf("DefaultDataDir = %q, %v", dir, err)
	}
	p, err := Path()
	if err != nil || p != filepath.Join(base, "usepod-agent", "agent.toml") {
		t.Errorf("Path = %q, %v", p, err)
	}
}
