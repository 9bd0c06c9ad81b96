package ledger

import (
	"math"
	"testing"
)

func TestFormatExact(t *testing.T) {
	for micro, want := range map[int64]string{
		0: "0.000000", 1: "0.000001", 1234567: "1.234567", -5: "-0.000005",
		math.MinInt64: "-9223372036854.775808",
	} {
		if got := FormatExact(micro); got != want {
			t.Errorf("FormatExact(%d) = %q, want %q", micro, got, want)
		}
	}
}
