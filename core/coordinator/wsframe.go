package coordinator

import (
	"crypto/rand"
	"encoding/binary"
)

// The session writes its own frames to the held socket (see heldConn):
// the library's Write takes two locks, reads the random source, copies the
// message into its buffer and flushes it, for every frame; at hundreds of
// streams that was a tenth of the relay's CPU. The frames are simple (RFC
// 6455 §5.2): a whole text message in one frame, masked with a fresh key
// as a client must; the library still reads, and writes the control frames
// (ping, pong, close).

// frameWriter builds batches of masked text frames. It is used by the
// write token's holder only.
type frameWriter struct {
	wire []byte // the batch on the wire, reused
	keys []byte // one masking key per frame, from the system's random source
}

// maxWireBuf is the largest batch buffer kept for the next batch.
const maxWireBuf = 1 << 20

// frames returns the frames (back to back in batch, lengths in sizes) as
// masked WebSocket text frames, valid until the next call.
func (w *frameWriter) frames(batch []byte, sizes []int) []byte {
	if cap(w.wire) > maxWireBuf {
		w.wire = nil
	}
	if need := 4 * len(sizes); cap(w.keys) < need {
		w.keys = make([]byte, need)
	}
	keys := w.keys[:4*len(sizes)]
	rand.Read(keys) // one read for the whole batch; it never fails (the runtime ends the program if the system has no randomness)
	out := w.wire[:0]
	for i, n := range sizes {
		out = appendMaskedText(out, batch[:n], keys[4*i:4*i+4])
		batch = batch[n:]
	}
	w.wire = out
	return out
}

// appendMaskedText appends payload as one final, masked text frame.
func appendMaskedText(dst, payload, key []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|0x1) // FIN, opcode text
	switch {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:4]...)
	start := len(dst)
	dst = append(dst, payload...)
	mask(dst[start:], key)
	return dst
}

// mask XORs b with the 4-byte key, byte i with key[i%4], eight bytes at a
// time.
func mask(b, key []byte) {
	k4 := uint64(binary.LittleEndian.Uint32(key))
	k8 := k4<<32 | k4
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k8)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}
