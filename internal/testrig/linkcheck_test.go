package testrig

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	shipping = "usepod.ai/agent"                  // the one main package that ships
	rigs     = "usepod.ai/agent/internal/testrig" // this folder: nothing under it ships
)

// TestShippingBinariesLinkNoRig lists what each shipping build of the agent
// links (go list -deps, with the build's tags, for each OS it ships on) and
// fails, naming the rig and the package that imports it, when anything under
// internal/testrig is among it. The tags are the Makefile's own GUI_TAGS
// (make build) and HEADLESS_TAGS (make build-headless, the Dockerfile), and
// release plus GUI_TAGS (the packages, packaging/packaging.mk).
func TestShippingBinariesLinkNoRig(t *testing.T) {
	goBin := goTool(t)
	root := moduleRoot(t, goBin)
	gui, headless := makeVar(t, root, "GUI_TAGS"), makeVar(t, root, "HEADLESS_TAGS")
	builds := []struct {
		name, tags, cgo string
		dashboard       bool // whether the build links the dashboard (package ui): proof the tags took effect
	}{
		{"desktop", gui, "1", true},
		{"packaged", "release," + gui, "1", true},
		{"headless", headless, "0", false},
	}
	for _, b := range builds {
		for _, goos := range []string{"linux", "windows", "darwin"} {
			t.Run(b.name+"/"+goos, func(t *testing.T) {
				cmd := exec.Command(goBin, "list", "-deps", "-tags", b.tags,
					"-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", shipping)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED="+b.cgo)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("GOOS=%s CGO_ENABLED=%s go list -deps -tags %s %s: %v\n%s", goos, b.cgo, b.tags, shipping, err, stderr(err))
				}
				// Each line: a package the binary links, then what it imports.
				importers := map[string][]string{}
				var deps []string
				for line := range strings.Lines(string(out)) {
					f := strings.Fields(line)
					if len(f) == 0 {
						continue
					}
					deps = append(deps, f[0])
					for _, imp := range f[1:] {
						importers[imp] = append(importers[imp], f[0])
					}
				}
				for _, want := range []string{shipping, shipping + "/app", shipping + "/core/engine"} {
					if !slices.Contains(deps, want) {
						t.Fatalf("go list -deps -tags %s found %d packages, without %s:\n%s", b.tags, len(deps), want, out)
					}
				}
				if got := slices.Contains(deps, shipping+"/ui"); got != b.dashboard {
					t.Fatalf("-tags %s: links the dashboard (package ui) = %v, want %v: the tags did not take effect", b.tags, got, b.dashboard)
				}
				for _, p := range deps {
					if p == rigs || strings.HasPrefix(p, rigs+"/") {
						t.Errorf("GOOS=%s -tags %s: the shipping binary links the test rig %s (imported by %s)",
							goos, b.tags, p, strings.Join(importers[p], ", "))
					}
				}
			})
		}
	}
}

// goTool finds the go command: on PATH (go test puts its own GOROOT/bin
// first), else under $GOROOT. There is no skipping: a test that cannot run
// go fails.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("no go command on PATH or under $GOROOT/bin: this test needs it")
	return ""
}

// moduleRoot is the folder holding go.mod.
func moduleRoot(t *testing.T, goBin string) string {
	t.Helper()
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v\n%s", err, stderr(err))
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("go env GOMOD: not inside the module")
	}
	return filepath.Dir(mod)
}

// makeVar reads a simple `NAME := value` line from the Makefile, so the
// builds checked here are the ones make runs.
func makeVar(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:?=\s*(\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("Makefile: no %s := line", name)
	}
	return string(m[1])
}

func stderr(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}
