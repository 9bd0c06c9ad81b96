// Package packaging holds the per-OS bundle files and the Makefile fragment
// that builds the distributions; its tests check the static files.
package packaging

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"usepod.ai/agent/packaging/plistcheck"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDesktopFileValidates(t *testing.T) {
	tool, err := exec.LookPath("desktop-file-validate")
	if err != nil {
		t.Fatal("desktop-file-validate not found: install desktop-file-utils")
	}
	out, err := exec.Command(tool, "linux/ai.usepod.agent.desktop").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("desktop-file-validate: %v\n%s", err, out)
	}
	b := string(read(t, "linux/ai.usepod.agent.desktop"))
	for _, line := range []string{"Name=Use Pod Agent", "Exec=usepod-agent", "Icon=ai.usepod.agent"} {
		if !strings.Contains(b, line+"\n") {
			t.Errorf("desktop entry lacks %q", line)
		}
	}
}

var placeholder = regexp.MustCompile(`@[A-Z0-9_]+@`)

func TestInfoPlist(t *testing.T) {
	b := strings.NewReplacer("@VERSION@", "1.2.3", "@BUILD@", "45").Replace(string(read(t, "darwin/Info.plist")))
	if placeholder.MatchString(b) {
		t.Errorf("a placeholder is left after filling in VERSION and BUILD:\n%s", b)
	}
	m, err := plistcheck.Dict(strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := plistcheck.Require(m, map[string]any{
		"CFBundleIdentifier": "", "CFBundleExecutable": "", "CFBundleShortVersionString": "",
		"CFBundleVersion": "", "CFBundleIconFile": "", "CFBundlePackageType": "", "LSUIElement": true,
		"NSHighResolutionCapable": true,
	}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"CFBundleIdentifier":         "ai.usepod.agent",
		"CFBundleExecutable":         "usepod-agent",
		"CFBundleShortVersionString": "1.2.3",
		"CFBundleVersion":            "45",
		"CFBundleIconFile":           "icon.icns",
		"CFBundlePackageType":        "APPL",
		"LSUIElement":                true,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestManifest(t *testing.T) {
	b := strings.ReplaceAll(string(read(t, "windows/usepod-agent.exe.manifest")), "@VERSION4@", "1.2.3.4")
	d := xml.NewDecoder(strings.NewReader(b))
	d.Strict = true
	levels := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("manifest is not well-formed XML: %v", err)
		}
		if s, ok := tok.(xml.StartElement); ok && s.Name.Local == "requestedExecutionLevel" {
			for _, a := range s.Attr {
				if a.Name.Local == "level" && a.Value == "asInvoker" {
					levels++
				}
			}
		}
	}
	if levels != 1 {
		t.Errorf("manifest asks for asInvoker %d times, want once", levels)
	}
}

// TestMakefileVersion runs packaging.mk against sample FyneApp.toml files:
// the version comes from [Details] and nowhere else.
func TestMakefileVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make not found")
	}
	mk, err := filepath.Abs("packaging.mk")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		toml, want string
	}{
		{"[Details]\nVersion = \"0.1.0\"\nBuild = 1\n\n[Migrations]\nfyneDo = true\n",
			"0.1.0|1|0,1,0,1|0.1.0.1|release,migrated_fynedo"},
		{"[Other]\nVersion = \"9.9.9\"\n\n[Details]\n  Version   = \"2.10.3-rc.1\"\nBuild = 17\n",
			"2.10.3-rc.1|17|2,10,3,17|2.10.3.17|release"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "FyneApp.toml"), []byte(tc.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("make", "-s", "-f", mk, "--eval",
			"print-version: ; @echo '$(VERSION)|$(BUILD_NUMBER)|$(VERSION_COMMAS)|$(VERSION4)|$(PKG_TAGS)'",
			"print-version")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("from\n%s\ngot %q (%v), want %q", tc.toml, got, err, tc.want)
		}
	}
	// The real file has a version the Makefile accepts.
	cmd := exec.Command("make", "-s", "-f", mk, "pkg-version")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("pkg-version on FyneApp.toml: %v\n%s", err, out)
	}
}
