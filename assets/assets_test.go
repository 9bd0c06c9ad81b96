package assets

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func decode(t *testing.T, name string, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

func TestIcon(t *testing.T) {
	img := decode(t, "Icon", Icon)
	if got := img.Bounds().Size(); got != image.Pt(1024, 1024) {
		t.Errorf("Icon is %v, want 1024x1024", got)
	}
	// The centre is opaque artwork; the corner is transparent margin.
	if _, _, _, a := img.At(512, 512).RGBA(); a != 0xffff {
		t.Errorf("Icon centre alpha = %#x, want opaque", a)
	}
	if _, _, _, a := img.At(2, 2).RGBA(); a != 0 {
		t.Errorf("Icon corner alpha = %#x, want transparent", a)
	}
}

func TestTray(t *testing.T) {
	seen := map[string]string{}
	for _, s := range States {
		for _, tc := range []struct {
			template bool
			size     int
		}{{false, 64}, {true, 32}} {
			b := Tray(s, tc.template)
			img := decode(t, s, b)
			if got := img.Bounds().Dx(); got != tc.size || img.Bounds().Dy() != tc.size {
				t.Errorf("Tray(%q, %v) is %v, want %d px square", s, tc.template, img.Bounds().Size(), tc.size)
			}
			if prev, dup := seen[string(b)]; dup {
				t.Errorf("Tray(%q, %v) is the same image as %s", s, tc.template, prev)
			}
			seen[string(b)] = s
			if tc.template {
				checkTemplate(t, s, img)
			}
		}
	}
	if !bytes.Equal(Tray("no such state", false), Tray("offline", false)) {
		t.Error("an unknown state does not get the offline icon")
	}
}

// checkTemplate asserts a macOS template image: black with alpha only, and
// not empty.
func checkTemplate(t *testing.T, name string, img image.Image) {
	t.Helper()
	inked := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if r|g|bl != 0 {
				t.Fatalf("%s template: pixel (%d,%d) has colour %d,%d,%d", name, x, y, r, g, bl)
			}
			if a > 0x8000 {
				inked++
			}
		}
	}
	if inked < b.Dx()*b.Dy()/8 {
		t.Errorf("%s template: only %d of %d pixels inked", name, inked, b.Dx()*b.Dy())
	}
}

// TestTemplateFiles checks the @1x files too, which Tray does not hand out.
func TestTemplateFiles(t *testing.T) {
	for _, s := range States {
		b, err := tray.ReadFile("tray/" + s + "Template.png")
		if err != nil {
			t.Fatal(err)
		}
		img := decode(t, s, b)
		if img.Bounds().Dx() != 16 {
			t.Errorf("%sTemplate.png is %v, want 16 px", s, img.Bounds().Size())
		}
		checkTemplate(t, s, img)
	}
}

func TestICO(t *testing.T) {
	b, err := os.ReadFile("icon.ico")
	if err != nil {
		t.Fatal(err)
	}
	var hdr [3]uint16
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0 || hdr[1] != 1 || hdr[2] == 0 {
		t.Fatalf("icon.ico header = %v, want reserved 0, type 1, some images", hdr)
	}
	has := map[int]bool{}
	for i := 0; i < int(hdr[2]); i++ {
		e := b[6+16*i:]
		w := int(e[0])
		if w == 0 {
			w = 256
		}
		size := binary.LittleEndian.Uint32(e[8:])
		off := binary.LittleEndian.Uint32(e[12:])
		img := decode(t, "icon.ico entry", b[off:off+size])
		if img.Bounds().Dx() != w {
			t.Errorf("icon.ico entry %d says %d px, holds %v", i, w, img.Bounds().Size())
		}
		has[w] = true
	}
	for _, w := range []int{16, 32, 48, 256} {
		if !has[w] {
			t.Errorf("icon.ico lacks a %d px image", w)
		}
	}
}

// TestGenerated fails when a committed PNG differs from what ./gen draws now:
// someone edited the generator without running go generate, or the reverse.
func TestGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./gen", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.*"))
	more, _ := filepath.Glob(filepath.Join(dir, "tray", "*"))
	files = append(files, more...)
	if len(files) < 10 {
		t.Fatalf("generator wrote only %d files", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(rel)
		if err != nil {
			t.Errorf("%s: generated but not committed: %v", rel, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go generate ./assets", rel)
		}
	}
}
