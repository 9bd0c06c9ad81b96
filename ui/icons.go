package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"sync"

	"fyne.io/fyne/v2"
)

// The tray icons are drawn in code: a coloured disc per state with a white
// glyph, so they stay legible on light and dark panels and need no asset
// pipeline. They are PNGs because that is what every tray host accepts.
//
//	earning   green disc, solid centre  ("live")
//	waiting   blue disc, hollow ring    (ready, idle)
//	paused    grey disc, two bars
//	attention amber disc, exclamation   (offline, rejected, no server)

const iconSize = 64

var (
	colEarning   = color.NRGBA{R: 0x1f, G: 0x9d, B: 0x55, A: 0xff}
	colWaiting   = color.NRGBA{R: 0x2f, G: 0x6f, B: 0xde, A: 0xff}
	colPaused    = color.NRGBA{R: 0x80, G: 0x86, B: 0x8e, A: 0xff}
	colAttention = color.NRGBA{R: 0xe0, G: 0x8a, B: 0x00, A: 0xff}
)

// trayIcons are built once, on first use.
var trayIcons = sync.OnceValue(func() map[trayIcon]fyne.Resource {
	return map[trayIcon]fyne.Resource{
		iconEarning:   fyne.NewStaticResource("usepod-earning.png", drawIcon(colEarning, glyphDot)),
		iconWaiting:   fyne.NewStaticResource("usepod-waiting.png", drawIcon(colWaiting, glyphRing)),
		iconPaused:    fyne.NewStaticResource("usepod-paused.png", drawIcon(colPaused, glyphPause)),
		iconAttention: fyne.NewStaticResource("usepod-attention.png", drawIcon(colAttention, glyphBang)),
	}
})

// iconFor returns the tray icon resource for a state's icon.
func iconFor(i trayIcon) fyne.Resource { return trayIcons()[i] }

// A glyph reports whether a point (in a 0..1 square) is white.
type glyph func(x, y float64) bool

func glyphDot(x, y float64) bool { return math.Hypot(x-0.5, y-0.5) <= 0.17 }

func glyphRing(x, y float64) bool {
	r := math.Hypot(x-0.5, y-0.5)
	return r <= 0.22 && r >= 0.13
}

func glyphPause(x, y float64) bool {
	inY := y >= 0.30 && y <= 0.70
	return inY && ((x >= 0.34 && x <= 0.45) || (x >= 0.55 && x <= 0.66))
}

func glyphBang(x, y float64) bool {
	bar := x >= 0.445 && x <= 0.555 && y >= 0.24 && y <= 0.58
	dot := math.Hypot(x-0.5, y-0.71) <= 0.065
	return bar || dot
}

// drawIcon paints a disc with a glyph, supersampled 4x4 for smooth edges.
func drawIcon(disc color.NRGBA, g glyph) []byte {
	const ss = 4
	img := image.NewNRGBA(image.Rect(0, 0, iconSize, iconSize))
	for py := range iconSize {
		for px := range iconSize {
			var inDisc, inGlyph int
			for sy := range ss {
				for sx := range ss {
					x := (float64(px) + (float64(sx)+0.5)/ss) / iconSize
					y := (float64(py) + (float64(sy)+0.5)/ss) / iconSize
					if math.Hypot(x-0.5, y-0.5) > 0.47 {
						continue
					}
					inDisc++
					if g(x, y) {
						inGlyph++
					}
				}
			}
			if inDisc == 0 {
				continue
			}
			// Mix white into the disc colour by glyph coverage; alpha is the
			// disc's coverage.
			w := float64(inGlyph) / float64(inDisc)
			mix := func(c uint8) uint8 { return uint8(math.Round(float64(c)*(1-w) + 255*w)) }
			img.SetNRGBA(px, py, color.NRGBA{
				R: mix(disc.R), G: mix(disc.G), B: mix(disc.B),
				A: uint8(math.Round(255 * float64(inDisc) / (ss * ss))),
			})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory NRGBA cannot fail
	}
	return buf.Bytes()
}
