//go:build pecheck

package pecheck

import (
	"flag"
	"testing"
)

var (
	exe     = flag.String("exe", "", "packaged .exe to check (make package-check sets it)")
	version = flag.String("version", "", "version the .exe must carry, X.Y.Z")
	build   = flag.Uint("build", 0, "build number, the fourth part of the file version")
	signed  = flag.Bool("signed", false, "the .exe must carry an Authenticode signature")
)

// TestExe checks a packaged .exe. It is built only with the pecheck tag,
// which make package-check sets along with -exe.
func TestExe(t *testing.T) {
	if *exe == "" {
		t.Fatal("no -exe given: run make package-check")
	}
	if *version == "" {
		t.Fatal("-exe needs -version")
	}
	info, err := Inspect(*exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(info, Want{Version: *version, Build: uint16(*build), Signed: *signed}); err != nil {
		t.Errorf("%s:\n%v", *exe, err)
	}
	t.Logf("%s: subsystem %d, icon sizes %v, version %v, strings %v, signed %v",
		*exe, info.Subsystem, info.IconSizes, info.FileVersion, info.Strings, info.Signed)
}
