package engine

import (
	"fmt"
	"sync"
	"testing"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// TestNextJobsOnJobDoneAreServed: a coordinator that sends max_concurrent
// jobs at once, and the next ones the moment it has read the last job_done
// of them, over the real session, never gets out_of_capacity (issue 17,
// item 9). The jobs package holds the race open on every job
// (TestSlotFreeWhenTerminalFrameLeaves); here the agent's own session
// writes the frame, so the coordinator's next job races the job's
// goroutine as it does in production.
func TestNextJobsOnJobDoneAreServed(t *testing.T) {
	const rounds = 200
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprintf("max_concurrent=%d", limit), func(t *testing.T) {
			llama := replay.LlamaCpp(t)
			h := newHarness(t, localcoord.Options{}, withBackends(llama),
				withConfig(func(c *config.Config) { c.Limits.MaxConcurrent = limit }))
			p := h.provider()
			capabilities(t, p, 0)
			ctx := ctxT(t)

			var refused, other []string
			for r := range rounds {
				results := make([]localcoord.JobResult, limit)
				errs := make([]error, limit)
				var wg sync.WaitGroup
				for i := range limit {
					wg.Go(func() {
						results[i], errs[i] = p.Dispatch(ctx, localcoord.JobRequest{
							JobID: fmt.Sprintf("r%d-%d", r, i), ModelID: "tiny", Request: chatRequest()})
					})
				}
				wg.Wait()
				for i, res := range results {
					id := fmt.Sprintf("r%d-%d", r, i)
					switch {
					case errs[i] != nil:
						t.Fatalf("job %s: %v", id, errs[i])
					case res.Error != nil && res.Error.ErrorCode == "out_of_capacity":
						refused = append(refused, id)
					case res.Done == nil:
						other = append(other, fmt.Sprintf("%s: %s", id, res.Terminal.Raw))
					}
				}
			}
			if len(refused) > 0 {
				t.Errorf("%d of %d jobs refused for capacity, each sent as the jobs before it were done: %v",
					len(refused), rounds*limit, refused)
			}
			if len(other) > 0 {
				t.Errorf("jobs that did not end with job_done: %v", other)
			}
			// Each job_done followed its job's record.
			if sum, err := h.ledger.Summary(ctx, ledger.JobQuery{}); err != nil || sum.Jobs != int64(rounds*limit-len(refused)) {
				t.Errorf("%d jobs on record (%v), want %d", sum.Jobs, err, rounds*limit-len(refused))
			}
		})
	}
}
