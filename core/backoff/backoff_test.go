package backoff

import (
	"testing"
	"time"
)

func TestSequenceDoublesToCapAndResets(t *testing.T) {
	b := &Backoff{Base: time.Second, Max: 60 * time.Second, Rand: func() float64 { return 0.5 }} // factor 1.0
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := b.Next(); got != w*time.Second {
			t.Fatalf("wait %d = %v, want %v", i, got, w*time.Second)
		}
	}
	if b.Failures() != len(want) {
		t.Fatalf("failures = %d", b.Failures())
	}
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Fatalf("after reset = %v, want 1s", got)
	}
}

func TestJitterBounds(t *testing.T) {
	for _, tc := range []struct {
		r        float64
		min, max time.Duration
	}{
		{0, 800 * time.Millisecond, 800 * time.Millisecond},
		{0.999999, 1199 * time.Millisecond, 1200 * time.Millisecond},
	} {
		b := &Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return tc.r }}
		got := b.Next()
		if got < tc.min || got > tc.max {
			t.Errorf("r=%v: %v not in [%v,%v]", tc.r, got, tc.min, tc.max)
		}
	}
	// The real random source stays in [0.8, 1.2).
	b := New()
	for i := 0; i < 1000; i++ {
		b.Reset()
		if got := b.Next(); got < 800*time.Millisecond || got >= 1200*time.Millisecond {
			t.Fatalf("jittered first wait %v out of range", got)
		}
	}
}
