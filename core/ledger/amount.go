package ledger

import (
	"errors"
	"fmt"
	"time"
)

// Amounts are kept as exact numerators in units of 1e-12 USDC ("e12"):
//
//	e12 = inputTokens*inputPer1M + outputTokens*outputPer1M
//
// Prices are micro-USDC (USDC base units) per million tokens, so dividing e12
// by one million gives micro-USDC. The ledger sums e12 values and divides
// once, at the end, so a total is exact to 1 micro-USDC no matter how many
// tiny jobs it adds up; rounding each job first would lose them.

// e12PerMicro is how many 1e-12 USDC units make one micro-USDC.
const e12PerMicro = 1_000_000

// Limits on one job. They reject nonsense (a corrupt job_done, a unit
// mix-up) and keep e12 = in*inPrice + out*outPrice far from int64 overflow:
// 2 * MaxTokens * MaxPricePer1M = 2e18 < 9.2e18.
const (
	// MaxTokens is the largest input or output token count one job may have.
	MaxTokens = 1_000_000_000
	// MaxPricePer1M is the largest price, in micro-USDC per million tokens
	// (1,000 USDC per million tokens).
	MaxPricePer1M = 1_000_000_000
)

// Amount returns the exact earnings of one job in 1e-12 USDC:
// inputTokens*inPer1M + outputTokens*outPer1M. Prices are micro-USDC per
// million tokens. The arguments must be within [0, MaxTokens] and
// [0, MaxPricePer1M] (Record checks this); outside those limits the result is
// meaningless.
func Amount(inputTokens, outputTokens, inPer1M, outPer1M int64) (e12 int64) {
	return inputTokens*inPer1M + outputTokens*outPer1M
}

// MicroFromE12 converts 1e-12 USDC to micro-USDC, rounding half up: to the
// nearest micro-USDC, and a remainder of exactly half a micro goes up
// (towards +infinity, also for negative values). 1,499,999 -> 1;
// 1,500,000 -> 2; -1,500,000 -> -1. It does not overflow for any int64.
func MicroFromE12(e12 int64) int64 {
	q, r := e12/e12PerMicro, e12%e12PerMicro
	if r < 0 { // floor division, so r is in [0, e12PerMicro)
		q--
		r += e12PerMicro
	}
	return q + (r+e12PerMicro/2)/e12PerMicro
}

// AmountE12 returns the job's exact earnings in 1e-12 USDC (see Amount);
// 0 for a job that did not end with job_done.
func (e Entry) AmountE12() int64 {
	if !e.Done() {
		return 0
	}
	return Amount(e.InputTokens, e.OutputTokens, e.InputPer1M, e.OutputPer1M)
}

// AmountMicro returns the job's earnings in micro-USDC, rounded half up.
// Sums of many jobs should be taken from Totals, which adds exact amounts.
func (e Entry) AmountMicro() int64 { return MicroFromE12(e.AmountE12()) }

// farFutureMs is an upper bound on recorded times (about year 287,000), a
// multiple of the bucket width, used as the open end of "since" ranges.
const farFutureMs = bucketMs * 10_000_000_000

// validate reports the first reason e cannot be recorded, or nil.
func validate(e Entry) error {
	if e.JobID == "" {
		return errors.New("the job id is empty")
	}
	for _, f := range []struct {
		what     string
		v, limit int64
	}{
		{"input tokens", e.InputTokens, MaxTokens},
		{"output tokens", e.OutputTokens, MaxTokens},
		{"input price", e.InputPer1M, MaxPricePer1M},
		{"output price", e.OutputPer1M, MaxPricePer1M},
	} {
		if f.v < 0 || f.v > f.limit {
			return fmt.Errorf("%s %d is out of range (0 to %d)", f.what, f.v, f.limit)
		}
	}
	if e.RelayedBytes < 0 || e.FirstChunk < 0 {
		return errors.New("relayed bytes or first-chunk time is negative")
	}
	if e.DurationMs < 0 {
		return fmt.Errorf("duration %d ms is negative", e.DurationMs)
	}
	if !e.At.IsZero() {
		if ms := e.At.UnixMilli(); ms < 0 || ms >= farFutureMs {
			return fmt.Errorf("time %s is out of range", e.At.Format(time.RFC3339))
		}
	}
	return nil
}

// FormatExact writes micro-USDC exactly, with all six decimals:
// 1234567 -> "1.234567". It is the record's own form (the CLI, CSV and
// JSON); people-facing screens round with ui/present.FormatUSDC.
func FormatExact(micro int64) string {
	sign := ""
	abs := uint64(micro)
	if micro < 0 {
		sign, abs = "-", uint64(-micro) // math.MinInt64 wraps to itself, still its magnitude as uint64
	}
	return fmt.Sprintf("%s%d.%06d", sign, abs/1_000_000, abs%1_000_000)
}
