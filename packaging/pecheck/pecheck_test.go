package pecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildWindowsExe builds a tiny Windows program without cgo; syso, when
// set, is linked in as the packaging does.
func buildWindowsExe(t *testing.T, syso []byte, ldflags string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module tiny\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if syso != nil {
		if err := os.WriteFile(filepath.Join(dir, "rsrc_windows_amd64.syso"), syso, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "tiny.exe")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// A plain Go .exe has none of what the packaging adds: Check must say so.
func TestCheckCatchesPlainExe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Windows program")
	}
	info, err := Inspect(buildWindowsExe(t, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(info, Want{Version: "1.2.3"})
	if err == nil {
		t.Fatal("Check passed a console .exe without resources")
	}
	for _, want := range []string{"subsystem 3", "no icon", "no manifest", "no version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check did not report %q:\n%v", want, err)
		}
	}
}

// The packaging's own .rc, manifest and icon, compiled with windres and
// linked into a GUI .exe, pass Check; a wrong version does not.
func TestPackagingResources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Windows program")
	}
	windres, err := exec.LookPath("x86_64-w64-mingw32-windres")
	if err != nil {
		t.Fatal("x86_64-w64-mingw32-windres not found: install gcc-mingw-w64-x86-64 (make deps does)")
	}
	dir := t.TempDir()
	fill := func(src, dst string, r *strings.Replacer) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), []byte(r.Replace(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fill("../windows/usepod-agent.rc", "usepod-agent.rc",
		strings.NewReplacer("@VERSION@", "9.8.7", "@VERSION_COMMAS@", "9,8,7,6"))
	fill("../windows/usepod-agent.exe.manifest", "usepod-agent.exe.manifest",
		strings.NewReplacer("@VERSION4@", "9.8.7.6"))
	fill("../../assets/icon.ico", "icon.ico", strings.NewReplacer())
	cmd := exec.Command(windres, "-O", "coff", "-i", "usepod-agent.rc", "-o", "rsrc.syso")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("windres: %v\n%s", err, b)
	}
	syso, err := os.ReadFile(filepath.Join(dir, "rsrc.syso"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(buildWindowsExe(t, syso, "-H=windowsgui"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("icon sizes %v, version %v, strings %q", info.IconSizes, info.FileVersion, info.Strings)
	if err := Check(info, Want{Version: "9.8.7", Build: 6}); err != nil {
		t.Errorf("packaging resources fail Check:\n%v", err)
	}
	if err := Check(info, Want{Version: "9.8.8", Build: 6}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("Check with the wrong version: %v", err)
	}
	if err := Check(info, Want{Version: "9.8.7", Build: 6, Signed: true}); err == nil {
		t.Error("Check passed an unsigned .exe as signed")
	}
}
