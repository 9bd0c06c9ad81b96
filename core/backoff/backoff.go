// Package backoff computes the reconnect waits of docs/protocol.md section 7:
// 1 s, 2, 4, 8 ... up to 60 s, each multiplied by a random factor in
// [0.8, 1.2), reset after a session that reached auth_ok.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Defaults from docs/protocol.md section 7.
const (
	DefaultBase = time.Second
	DefaultMax  = 60 * time.Second
	// LoudAfter is how many failures in a row earn a loud log line.
	LoudAfter = 10
)

// Backoff is not safe for concurrent use; one reconnect loop owns it.
type Backoff struct {
	Base, Max time.Duration
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests inject it.
	Rand func() float64

	failures int
}

// New returns a backoff with the protocol's defaults.
func New() *Backoff { return &Backoff{Base: DefaultBase, Max: DefaultMax} }

// Next records one more failure and returns how long to wait before the next
// try.
func (b *Backoff) Next() time.Duration {
	d := b.Base
	for i := 0; i < b.failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	b.failures++
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(float64(d) * (0.8 + 0.4*r()))
}

// Failures is the number of failures in a row so far.
func (b *Backoff) Failures() int { return b.failures }

// Reset starts again from Base, after a session that reached auth_ok.
func (b *Backoff) Reset() { b.failures = 0 }
