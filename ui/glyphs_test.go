package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"golang.org/x/image/font/sfnt"
)

// Every character the UI's own strings use must be in the fonts Fyne
// bundles. A missing one is drawn from a system font where the OS has one
// (Linux with fontconfig) and as a replacement box where it has not: wine
// showed "≈" as "�" before the hourly rate, and a Windows or macOS install
// without a matching font would too.
func TestUIStringsUseOnlyBundledGlyphs(t *testing.T) {
	fonts := map[string]fyne.Resource{
		"regular": theme.DefaultTextFont(),
		"bold":    theme.DefaultTextBoldFont(),
		"italic":  theme.DefaultTextItalicFont(),
	}
	parsed := map[string]*sfnt.Font{}
	for name, res := range fonts {
		f, err := sfnt.Parse(res.Content())
		if err != nil {
			t.Fatalf("parse the bundled %s font: %v", name, err)
		}
		parsed[name] = f
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, r := range s {
				if r < 0x80 {
					continue
				}
				checked++
				for name, font := range parsed {
					if i, err := font.GlyphIndex(&buf, r); err != nil || i == 0 {
						t.Errorf("%s: %q uses %q (U+%04X), which the bundled %s font lacks", fset.Position(lit.Pos()), s, r, r, name)
					}
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("found no non-ASCII characters to check; the test reads the wrong files")
	}
}
