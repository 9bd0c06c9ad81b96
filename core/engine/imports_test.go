package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreNeverImportsFyne keeps the engine buildable without a GUI: no
// package under core/ may depend on fyne.io, directly or not.
func TestCoreNeverImportsFyne(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", "usepod.ai/agent/core/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages: %s", len(pkgs), out)
	}
	for _, p := range pkgs {
		if strings.HasPrefix(p, "fyne.io/") {
			t.Errorf("core depends on %s; keep Fyne in ui/ and app/", p)
		}
	}
}
