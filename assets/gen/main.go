// Command gen draws the app icon and the tray icons into assets/.
//
// Run it from the module root or from assets/ (go generate does the latter):
//
//	go run ./assets/gen
//
// Every shape is a signed distance function, so each size is drawn natively
// (no downscaling) with analytic anti-aliasing, and the output is identical on
// every run.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// Brand colours: indigo to teal.
var (
	indigo = color.NRGBA{0x43, 0x38, 0xCA, 0xFF}
	teal   = color.NRGBA{0x0D, 0xB5, 0x9F, 0xFF}

	indigoLight = color.NRGBA{0x63, 0x66, 0xF1, 0xFF}
	tealLight   = color.NRGBA{0x14, 0xC8, 0xB0, 0xFF}
	white       = color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	black       = color.NRGBA{0x00, 0x00, 0x00, 0xFF}
	grey        = color.NRGBA{0x7C, 0x85, 0x94, 0xFF}
	red         = color.NRGBA{0xDC, 0x26, 0x26, 0xFF}
)

// States the tray shows; assets.Tray knows the same names.
var states = []string{"earning", "waiting", "paused", "offline"}

func main() {
	out := flag.String("out", "", "assets directory (default: ./assets, or . when run inside it)")
	flag.Parse()
	dir := *out
	if dir == "" {
		dir = "assets"
		if _, err := os.Stat("assets.go"); err == nil {
			dir = "."
		}
	}
	if err := generate(dir); err != nil {
		log.Fatal(err)
	}
}

func generate(dir string) error {
	files := map[string]image.Image{
		"icon.png":     appIcon(1024),
		"icon_512.png": appIcon(512),
		"icon_256.png": appIcon(256),
	}
	for _, s := range states {
		files["tray/"+s+".png"] = trayIcon(s, 64, false)
		files["tray/"+s+"Template.png"] = trayIcon(s, 16, true)
		files["tray/"+s+"Template@2x.png"] = trayIcon(s, 32, true)
	}
	for name, img := range files {
		if err := writePNG(filepath.Join(dir, name), img); err != nil {
			return err
		}
	}
	ico, err := encodeICO([]int{16, 20, 24, 32, 40, 48, 64, 128, 256}, appIcon)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "icon.ico"), ico, 0o644)
}

func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// appIcon is the rounded square with the chip-and-pod motif. The body sits on
// the macOS icon grid (824 of 1024, radius 185) so it matches its neighbours
// in the Dock; the margin holds a soft shadow.
func appIcon(size int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	u := float64(size) / 1024 // design units: the canvas is 1024 wide
	c := 512 * u

	body := roundRect(c, c, 412*u, 412*u, 185*u)
	if size >= 64 {
		// A soft drop shadow, offset down; too small to matter below 64 px.
		shadow := func(x, y float64) float64 { return body(x, y-12*u) }
		soft := 24 * u
		mask := newMask(size, func(x, y float64) float64 {
			d := shadow(x, y)
			return 0.30 * (1 - smoothstep(-soft, soft, d))
		})
		draw.DrawMask(img, img.Bounds(), image.NewUniform(black), image.Point{}, mask, image.Point{}, draw.Over)
	}
	fill(img, body, gradient{indigo, teal, size})

	// The chip: a white rounded square with four pins on each side.
	chipHalf := 200 * u
	chip := roundRect(c, c, chipHalf, chipHalf, 52*u)
	pins := pinsAround(c, c, chipHalf, 4, 30*u, 70*u, 17*u)
	fill(img, union(chip, pins), image.NewUniform(white))

	// The pod: a capsule cut into the chip, holding three peas.
	pod := capsule(c-100*u, c, c+100*u, c, 66*u)
	fill(img, pod, gradient{indigo, teal, size})
	peas := union(circle(c-80*u, c, 32*u), circle(c, c, 32*u), circle(c+80*u, c, 32*u))
	fill(img, peas, image.NewUniform(white))
	return img
}

// trayIcon draws the chip in a state's look. A template icon is black on
// transparent (macOS tints it for light and dark menu bars), so the state is
// told by shape alone; the colour icon adds colour to the same shapes.
//
// The design grid is 64 units; every edge falls on a pixel boundary at 32 and
// 64 px, so the icons stay sharp at the sizes they are shown at.
func trayIcon(state string, size int, template bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	u := float64(size) / 64
	c := 32 * u

	half := 20 * u
	chip := roundRect(c, c, half, half, 6*u)
	// Three 4-unit pins a side from 32 px up; two 1-pixel pins at 16 px.
	offsets, pinHalf := []float64{-10, 0, 10}, 2.0
	if size < 32 {
		offsets, pinHalf = []float64{-6, 6}, 2
	}
	var pins []sdf
	for _, off := range offsets {
		o, w := off*u, pinHalf*u
		pins = append(pins,
			roundRect(c+o, 8*u, w, 6*u, w/2),  // top: y from 2 to 14
			roundRect(c+o, 56*u, w, 6*u, w/2), // bottom
			roundRect(8*u, c+o, 6*u, w, w/2),  // left
			roundRect(56*u, c+o, 6*u, w, w/2), // right
		)
	}
	solid := union(chip, union(pins...))
	pod := capsule(c-7*u, c, c+7*u, c, 8*u)

	var shape sdf
	switch state {
	case "earning": // a full pod: work is flowing
		peas := union(circle(c-10*u, c, 4*u), circle(c, c, 4*u), circle(c+10*u, c, 4*u))
		shape = union(subtract(solid, pod), peas)
	case "waiting": // an empty pod: connected, nothing to do
		shape = subtract(solid, pod)
	case "paused": // pause bars
		bars := union(
			roundRect(c-6*u, c, 4*u, 12*u, 1*u),
			roundRect(c+6*u, c, 4*u, 12*u, 1*u),
		)
		shape = subtract(solid, bars)
	default: // offline or needing attention: a hollow chip, struck through
		ring := subtract(solid, roundRect(c, c, half-6*u, half-6*u, 2*u))
		slash := capsule(c-23*u, c+23*u, c+23*u, c-23*u, 3*u)
		gap := capsule(c-23*u, c+23*u, c+23*u, c-23*u, 7*u)
		shape = union(subtract(ring, gap), slash)
	}

	var paint image.Image
	switch {
	case template:
		paint = image.NewUniform(black)
	case state == "paused":
		paint = image.NewUniform(grey)
	case state == "offline":
		paint = image.NewUniform(red)
	default:
		// Lighter ends of the brand blend: readable on dark and light panels.
		paint = gradient{indigoLight, tealLight, size}
	}
	fill(img, shape, paint)
	return img
}

// pinsAround is n pins on each side of a square chip of half-size half:
// capsules of the given half-width reaching out from the chip's edge.
func pinsAround(cx, cy, half float64, n int, inner, length, width float64) sdf {
	var parts []sdf
	pitch := 2 * half / float64(n+1)
	for i := 1; i <= n; i++ {
		off := -half + float64(i)*pitch
		a, b := half-inner, half+length-width
		parts = append(parts,
			capsule(cx+off, cy-a, cx+off, cy-b, width), // top
			capsule(cx+off, cy+a, cx+off, cy+b, width), // bottom
			capsule(cx-a, cy+off, cx-b, cy+off, width), // left
			capsule(cx+a, cy+off, cx+b, cy+off, width), // right
		)
	}
	return union(parts...)
}

// sdf is a signed distance in pixels: negative inside the shape.
type sdf func(x, y float64) float64

func circle(cx, cy, r float64) sdf {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

func roundRect(cx, cy, hw, hh, r float64) sdf {
	return func(x, y float64) float64 {
		qx := math.Abs(x-cx) - (hw - r)
		qy := math.Abs(y-cy) - (hh - r)
		outside := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
		inside := math.Min(math.Max(qx, qy), 0)
		return outside + inside - r
	}
}

// capsule is the segment from (ax, ay) to (bx, by) thickened by r.
func capsule(ax, ay, bx, by, r float64) sdf {
	return func(x, y float64) float64 {
		px, py := x-ax, y-ay
		dx, dy := bx-ax, by-ay
		h := clamp((px*dx+py*dy)/(dx*dx+dy*dy), 0, 1)
		return math.Hypot(px-dx*h, py-dy*h) - r
	}
}

func union(parts ...sdf) sdf {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		for _, p := range parts {
			d = math.Min(d, p(x, y))
		}
		return d
	}
}

func subtract(a, b sdf) sdf {
	return func(x, y float64) float64 { return math.Max(a(x, y), -b(x, y)) }
}

// fill paints shape onto img with src, anti-aliased over what is there.
func fill(img draw.Image, shape sdf, src image.Image) {
	mask := newMask(img.Bounds().Dx(), func(x, y float64) float64 {
		return clamp(0.5-shape(x, y), 0, 1) // coverage of a one-pixel footprint
	})
	draw.DrawMask(img, img.Bounds(), src, image.Point{}, mask, image.Point{}, draw.Over)
}

// newMask samples alpha(x, y) in [0, 1] at each pixel centre.
func newMask(size int, alpha func(x, y float64) float64) *image.Alpha {
	m := image.NewAlpha(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			a := alpha(float64(x)+0.5, float64(y)+0.5)
			m.SetAlpha(x, y, color.Alpha{A: uint8(math.Round(255 * clamp(a, 0, 1)))})
		}
	}
	return m
}

// gradient is a diagonal blend from top-left to bottom-right over a square.
type gradient struct {
	from, to color.NRGBA
	size     int
}

func (g gradient) ColorModel() color.Model { return color.NRGBAModel }
func (g gradient) Bounds() image.Rectangle { return image.Rect(0, 0, g.size, g.size) }
func (g gradient) At(x, y int) color.Color {
	t := clamp(float64(x+y)/float64(2*g.size-2), 0, 1)
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + t*(float64(b)-float64(a)))) }
	return color.NRGBA{mix(g.from.R, g.to.R), mix(g.from.G, g.to.G), mix(g.from.B, g.to.B), 0xFF}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func smoothstep(e0, e1, x float64) float64 {
	t := clamp((x-e0)/(e1-e0), 0, 1)
	return t * t * (3 - 2*t)
}

// encodeICO writes a Windows icon holding one PNG per size (Vista and later
// read PNG entries at every size).
func encodeICO(sizes []int, render func(int) image.Image) ([]byte, error) {
	var images [][]byte
	for _, s := range sizes {
		var buf bytes.Buffer
		if err := png.Encode(&buf, render(s)); err != nil {
			return nil, err
		}
		images = append(images, buf.Bytes())
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	// ICONDIR: reserved, type 1 (icon), count.
	_ = binary.Write(&out, le, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := uint8(s) // 0 means 256
		if s >= 256 {
			dim = 0
		}
		// ICONDIRENTRY: width, height, colours, reserved, planes, bit count, size, offset.
		out.Write([]byte{dim, dim, 0, 0})
		_ = binary.Write(&out, le, [2]uint16{1, 32})
		_ = binary.Write(&out, le, [2]uint32{uint32(len(images[i])), uint32(offset)})
		offset += len(images[i])
	}
	for _, b := range images {
		out.Write(b)
	}
	return out.Bytes(), nil
}
