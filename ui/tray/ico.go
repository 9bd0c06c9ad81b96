package tray

import (
	"bytes"
	"encoding/binary"
	"image/png"
)

// icoFromPNG wraps a PNG in a one-image ICO file, the form Windows' icon
// loader reads (PNG images inside ICO are supported since Windows Vista;
// Fyne hands systray the same). A PNG it cannot read yields nil.
func icoFromPNG(p []byte) []byte {
	cfg, err := png.DecodeConfig(bytes.NewReader(p))
	if err != nil || cfg.Width > 256 || cfg.Height > 256 {
		return nil
	}
	var b bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), one image.
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, 1})
	// ICONDIRENTRY: width and height (0 means 256), no palette, reserved,
	// one colour plane, 32 bits per pixel, the image's size and offset.
	b.WriteByte(byte(cfg.Width))
	b.WriteByte(byte(cfg.Height))
	b.Write([]byte{0, 0})
	binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
	binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(p)), 6 + 16})
	b.Write(p)
	return b.Bytes()
}
