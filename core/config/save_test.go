package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"usepod.ai/agent/core/internal/atomicfile"
)

// full sets every field, so a round trip proves each one is written and read.
func full() Config {
	return Config{
		Operator:    Operator{DisplayName: "Rack \"7\" — garage", Wallet: "0x52908400098527886E0F7030069857D2E4169EE7", ContactEmail: "ops@example.com"},
		Coordinator: Coordinator{URL: "ws://127.0.0.1:9000/provider/connect", EnrollmentCode: "POD-ENROLL-AB12-CD34", AllowInsecure: true},
		Identity:    Identity{KeyPath: "/home/u/.usepod-agent/identity.key", Keyring: KeyringFile},
		Backends: []Backend{
			{Kind: KindVLLM, URL: "http://127.0.0.1:8000", Models: []string{"meta-llama/Llama-3.1-8B-Instruct", "x"}, APIKey: "sk-local"},
			{Kind: KindOllama, URL: "http://localhost:11434"},
		},
		Pricing: Pricing{
			DefaultInputPer1M:  1,
			DefaultOutputPer1M: 2,
			Models: map[string]ModelPricing{
				"qwen2.5:7b":                       {InputPer1M: 3, OutputPer1M: 4},
				"meta-llama/Llama-3.1-8B-Instruct": {InputPer1M: 0, OutputPer1M: 0},
			},
		},
		Limits:        Limits{MaxConcurrent: 256, MaxTokensPerMinute: 5000},
		Observability: Observability{PrometheusAddr: "127.0.0.1:9464", LogLevel: "debug"},
		Models:        Models{Disabled: []string{"x", "qwen2.5:7b"}},
		Desktop:       Desktop{LaunchAtLogin: true},
		Earning: Earning{PauseWhenGPUBusy: false, ResumeAfter: "90s", OnlyWhenIdle: "5m", PauseOnBattery: false,
			Schedule: []string{"mon-fri 22:00-07:00", "sat-sun 00:00-24:00"}, MaxGPUTempC: 80, MaxGPUPowerW: 300},
	}
}

func TestSaveRoundTrip(t *testing.T) {
	for name, c := range map[string]Config{"full": full(), "defaults": Default()} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.toml")
			if err := Save(path, c); err != nil {
				t.Fatal(err)
			}
			f, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(f.Warnings) != 0 {
				t.Errorf("warnings: %q", f.Warnings)
			}
			if !reflect.DeepEqual(f.Config, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v", f.Config, c)
			}
			// Saving what was loaded writes the same bytes.
			first, _ := os.ReadFile(path)
			if err := Save(path, f.Config); err != nil {
				t.Fatal(err)
			}
			second, _ := os.ReadFile(path)
			if string(first) != string(second) {
				t.Errorf("second save differs:\n%s\n---\n%s", first, second)
			}
		})
	}
}

func TestSaveNormalizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.toml")
	c := Default()
	c.Coordinator.EnrollmentCode = "  POD-ENROLL-AB12\n"
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Coordinator.EnrollmentCode != "POD-ENROLL-AB12" {
		t.Error("enrollment code not trimmed")
	}
	if c.Coordinator.EnrollmentCode != "  POD-ENROLL-AB12\n" {
		t.Error("Save changed the caller's config")
	}
}

func TestSaveCreatesPrivateFileAndFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "a", "usepod-agent")
	path := filepath.Join(dir, "agent.toml")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(dir)
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", dst.Mode().Perm())
	}
	// An existing file with looser permissions is replaced by a 0600 one.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode after resave %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# Use Pod agent settings") {
		t.Errorf("no header:\n%s", data)
	}
}

func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.toml")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	// A crash after the temporary file is written but before the rename:
	// the old file must still be there, whole, and nothing else.
	crash := errors.New("power cut")
	var tmpSeen []byte
	atomicfile.Rename = func(from, to string) error {
		if filepath.Dir(from) != dir || to != path {
			t.Errorf("rename %s -> %s: not beside the target", from, to)
		}
		tmpSeen, _ = os.ReadFile(from)
		return crash
	}
	t.Cleanup(func() { atomicfile.Rename = os.Rename })

	err := Save(path, full())
	if !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the rename's error", err)
	}
	if len(tmpSeen) == 0 || !strings.Contains(string(tmpSeen), "launch_at_login = true") {
		t.Error("the temporary file was not fully written before the rename")
	}
	now, _ := os.ReadFile(path)
	if string(now) != string(old) {
		t.Error("the old file changed")
	}
	assertOnlyFile(t, dir, "agent.toml")

	atomicfile.Rename = os.Rename
	if err := Save(path, full()); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, dir, "agent.toml")
}

func TestSaveRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.toml")
	const before = "[limits]\nmax_concurrent = 2\n# my notes\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Limits.MaxConcurrent = 0
	err := Save(path, c)
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	if ve.Path != path || len(ve.For("limits.max_concurrent")) != 1 {
		t.Errorf("error = %v", ve)
	}
	data, _ := os.ReadFile(path)
	if string(data) != before {
		t.Error("an invalid save changed the file")
	}
	assertOnlyFile(t, dir, "agent.toml")

	// Nor does it create a file where there was none.
	missing := filepath.Join(dir, "new", "agent.toml")
	if err := Save(missing, c); err == nil {
		t.Fatal("invalid config saved")
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Error("an invalid save created the folder")
	}
}

func TestSaveReplacesCorruptFileOnlyWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte("garbage = = ="), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("corrupt file loaded")
	}
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("after an explicit save: %v", err)
	}
}

func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("folder holds %q, want only %q", names, name)
	}
}

// A settings file that holds a secret and that other users can read earns
// a warning naming the fix; one without secrets, or private, does not.
func TestLoadWarnsAboutReadableSecrets(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		warn       string
	}{
		{"code, readable", "[coordinator]\nenrollment_code = \"POD-ENROLL-AB12\"\n", 0o644, "holds an enrollment code"},
		{"api key, readable", "[[backends]]\nkind = \"vllm\"\nurl = \"http://localhost:8000\"\napi_key = \"k\"\n", 0o640, "holds a backend API key"},
		{"code, private", "[coordinator]\nenrollment_code = \"POD-ENROLL-AB12\"\n", 0o600, ""},
		{"no secret, readable", "[limits]\nmax_concurrent = 4\n", 0o644, ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "")+".toml")
		os.WriteFile(path, []byte(tc.body), 0o600)
		os.Chmod(path, tc.mode)
		f, err := LoadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := strings.Join(f.Warnings, "\n")
		if tc.warn == "" && got != "" || tc.warn != "" && (!strings.Contains(got, tc.warn) || !strings.Contains(got, "chmod 600 "+path)) {
			t.Errorf("%s: warnings %q, want %q", tc.name, got, tc.warn)
		}
		if strings.Contains(got, "POD-ENROLL-AB12") {
			t.Errorf("%s: the warning shows the code", tc.name)
		}
	}
}
