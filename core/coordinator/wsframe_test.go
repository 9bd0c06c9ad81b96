package coordinator

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// TestMaskMatchesTheRFC: the eight-bytes-at-a-time mask equals RFC 6455
// §5.3's byte by byte definition, for every length around the word size.
func TestMaskMatchesTheRFC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 70 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		key := binary.LittleEndian.AppendUint32(nil, rng.Uint32())
		got := bytes.Clone(p)
		mask(got, key)
		for i := range p {
			if want := p[i] ^ key[i%4]; got[i] != want {
				t.Fatalf("length %d, byte %d: masked to %#x, want %#x", n, i, got[i], want)
			}
		}
	}
}

// TestFrameHeaders: the three payload length forms of RFC 6455 §5.2, with
// FIN, the text opcode and the mask bit set, and the key before the
// payload.
func TestFrameHeaders(t *testing.T) {
	key := []byte{1, 2, 3, 4}
	for _, c := range []struct {
		n    int
		head []byte
	}{
		{0, []byte{0x81, 0x80}},
		{125, []byte{0x81, 0x80 | 125}},
		{126, []byte{0x81, 0x80 | 126, 0, 126}},
		{65535, []byte{0x81, 0x80 | 126, 0xff, 0xff}},
		{65536, []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		f := appendMaskedText(nil, make([]byte, c.n), key)
		want := append(append(bytes.Clone(c.head), key...), bytes.Repeat(key, c.n/4+1)[:c.n]...)
		if !bytes.Equal(f, want) {
			t.Fatalf("%d-byte payload: frame starts % x, want % x (and %d bytes)", c.n, f[:min(len(f), 16)], want[:min(len(want), 16)], len(want))
		}
	}
}

// TestFramesOfEverySizeReachTheCoordinator: frames of each length form,
// in one batch and across batches, are read intact by a real WebSocket
// server (the coordinator stand-in uses the library's server side, which
// checks the framing and the masking), and each batch has fresh keys.
func TestFramesOfEverySizeReachTheCoordinator(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	go s.Run(ctx, recordingHandler{})
	sendEverySize(t, s, p)

	var w frameWriter
	a := bytes.Clone(w.frames([]byte("abcd"), []int{4}))
	b := w.frames([]byte("abcd"), []int{4})
	if bytes.Equal(a[2:6], b[2:6]) {
		t.Fatalf("two batches were masked with the same key % x", a[2:6])
	}
}
