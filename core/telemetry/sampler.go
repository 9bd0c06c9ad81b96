package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// Defaults for Options.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultHistory  = 600 // ten minutes at one sample a second

	minInterval = 100 * time.Millisecond
)

// Options configure a Sampler. The zero value is usable.
type Options struct {
	// GPU is the source to read GPUs from. When nil, Run calls Probe and
	// closes what it found when it returns.
	GPU GPUSource
	// Interval between samples; DefaultInterval when zero. SetInterval
	// changes it later.
	Interval time.Duration
	// Timeout for each source call; DefaultTimeout when zero. A source that
	// takes longer is reported in Sample.Err and not called again until it
	// returns.
	Timeout time.Duration
	// History is how many samples History keeps; DefaultHistory when zero.
	History int
	// Logger; nothing is logged when nil. The sampler adds
	// component=telemetry itself.
	Logger *slog.Logger
}

// Sampler takes a Sample every interval while Run runs and keeps the latest
// ones. Its methods are safe for concurrent use.
type Sampler struct {
	opts Options
	log  *slog.Logger
	host hostReader

	wake chan struct{} // a buffered nudge: the interval changed

	mu       sync.Mutex // guards the fields below
	interval time.Duration
	ring     []Sample // history, oldest at next when full
	next     int      // where the next sample goes in ring
	full     bool     // ring has wrapped
}

// NewSampler returns a Sampler; it samples nothing until Run.
func NewSampler(opts Options) *Sampler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	log := componentLog(opts.Logger)
	return &Sampler{
		opts:     opts,
		log:      log,
		host:     psutilHost{},
		wake:     make(chan struct{}, 1),
		interval: max(opts.Interval, minInterval),
		ring:     make([]Sample, opts.History),
	}
}

// SetInterval changes how often Run samples (at least every 100 ms), e.g.
// every second while the dashboard is visible and every 30 s while it is
// hidden. It does not block. The next sample comes d after the previous one,
// or at once if that time has passed.
func (s *Sampler) SetInterval(d time.Duration) {
	d = max(d, minInterval)
	s.mu.Lock()
	s.interval = d
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a nudge is already pending
	}
}

// Interval returns the current sampling interval.
func (s *Sampler) Interval() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interval
}

// Run samples until ctx is done, then returns ctx.Err(). If Options.GPU is
// nil it first probes for a GPU source (a few seconds at most). Each sample
// is added to the history, then passed to out (when not nil) on Run's
// goroutine: out should return quickly, or it delays the next sample. A
// source that fails, hangs or panics is reported in Sample.Err; Run goes on.
// Run blocks; call it once at a time.
func (s *Sampler) Run(ctx context.Context, out func(Sample)) error {
	src := s.opts.GPU
	if src == nil {
		src = probe(ctx, s.log, candidates()) // s.log has the component already
		if src != nil {
			defer CloseSource(src) // a source we found is ours to close
		}
	}
	var gpu *caller
	if src != nil {
		gpu = &caller{name: "gpu source " + src.Name(), timeout: s.opts.Timeout, log: s.log}
	}
	host := &caller{name: "system stats", timeout: s.opts.Timeout, log: s.log}

	var lastGPUs []GPU // from the last good GPU reading
	var last time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
			if !last.IsZero() {
				timer.Reset(time.Until(last.Add(s.Interval())))
			}
			continue
		case <-timer.C:
		}
		smp, gpuOK := s.take(ctx, src, gpu, host, lastGPUs)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if gpuOK {
			lastGPUs = smp.GPUs
		}
		last = smp.At
		s.add(smp)
		if out != nil {
			out(smp)
		}
		timer.Reset(time.Until(last.Add(s.Interval())))
	}
}

// take reads every source once; gpuOK reports that the GPU source answered.
// It blocks for at most about twice the timeout.
func (s *Sampler) take(ctx context.Context, src GPUSource, gpu, host *caller, lastGPUs []GPU) (smp Sample, gpuOK bool) {
	smp.At = time.Now()
	var errs []string
	if src != nil {
		smp.GPUSource = src.Name()
		gpus, err := call(ctx, gpu, src.Sample)
		gpuOK = err == nil
		if err != nil {
			errs = append(errs, err.Error())
			s.log.Debug("gpu sample", "source", src.Name(), "err", err)
			gpus = make([]GPU, len(lastGPUs)) // keep the rows, mark them unavailable
			for i, g := range lastGPUs {
				gpus[i] = GPU{Index: g.Index, Name: g.Name}
			}
		}
		smp.GPUs = gpus
		if ps, ok := src.(ProcessSource); ok && gpuOK {
			procs, err := call(ctx, gpu, ps.Processes)
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				smp.Procs, smp.ProcsOK = procs, true
				if gl, ok := src.(graphicsLister); ok {
					smp.ProcsGraphics = gl.listsGraphics()
				}
			}
		}
	}
	hs, err := call(ctx, host, s.host.read)
	if err != nil {
		errs = append(errs, err.Error())
	}
	smp.CPUPercent, smp.HasCPU = hs.cpu, hs.hasCPU
	smp.MemUsed, smp.MemTotal, smp.HasMem = hs.memUsed, hs.memTotal, hs.hasMem
	smp.Err = strings.Join(errs, "; ")
	return smp, gpuOK
}

// add puts smp in the history ring.
func (s *Sampler) add(smp Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = smp
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.full = true
	}
}

// History returns the latest n samples, oldest first (all it has when n is
// larger or not positive). The samples share their GPU slices with the
// Sampler's history: read them, don't modify them. It does not block.
func (s *Sampler) History(n int) []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.next
	if s.full {
		have = len(s.ring)
	}
	if n <= 0 || n > have {
		n = have
	}
	out := make([]Sample, n)
	for i := range n {
		out[i] = s.ring[(s.next-n+i+len(s.ring))%len(s.ring)]
	}
	return out
}

// Since returns the samples taken at or after t, oldest first; see History.
func (s *Sampler) Since(t time.Time) []Sample {
	all := s.History(0)
	for i, smp := range all {
		if !smp.At.Before(t) {
			return all[i:]
		}
	}
	return nil
}

// Latest returns the newest sample, and false when there is none yet.
func (s *Sampler) Latest() (Sample, bool) {
	h := s.History(1)
	if len(h) == 0 {
		return Sample{}, false
	}
	return h[0], true
}

// caller runs one source's calls with a timeout, one at a time, and turns
// panics into errors. A call that outlives its timeout keeps running in the
// background; until it returns, further calls fail at once ("busy") instead
// of piling up goroutines.
type caller struct {
	name    string
	timeout time.Duration
	log     *slog.Logger // for panics' stacks; may be nil
	busy    atomic.Bool  // a call is running
}

// call runs f with c's timeout. It blocks until f returns, the timeout
// passes or ctx is done.
func call[T any](ctx context.Context, c *caller, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if !c.busy.CompareAndSwap(false, true) {
		return zero, fmt.Errorf("%s is still busy with an earlier reading", c.name)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer c.busy.Store(false)
		defer func() {
			if r := recover(); r != nil {
				if c.log != nil {
					c.log.Error("panic in "+c.name, "panic", r, "stack", string(debug.Stack()))
				}
				done <- result{err: fmt.Errorf("%s failed: panic: %v", c.name, r)}
			}
		}()
		v, err := f(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !strings.HasPrefix(r.err.Error(), c.name) {
			r.err = fmt.Errorf("%s: %w", c.name, r.err)
		}
		return r.v, r.err
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return zero, fmt.Errorf("%s gave no answer within %v", c.name, c.timeout)
		}
		return zero, fmt.Errorf("%s: %w", c.name, ctx.Err())
	}
}

// hostStats are the CPU and memory readings.
type hostStats struct {
	cpu               float64
	hasCPU            bool
	memUsed, memTotal uint64
	hasMem            bool
}

// hostReader reads the CPU and memory; tests replace it.
type hostReader interface {
	read(ctx context.Context) (hostStats, error)
}

// psutilHost reads through gopsutil. Its CPU figure is the usage since its
// previous call (gopsutil keeps that state for the whole process).
type psutilHost struct{}

func (psutilHost) read(ctx context.Context) (hostStats, error) {
	var hs hostStats
	var problems []string
	if p, err := cpu.PercentWithContext(ctx, 0, false); err != nil {
		problems = append(problems, "cpu: "+err.Error())
	} else if len(p) > 0 {
		hs.cpu, hs.hasCPU = p[0], true
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		problems = append(problems, "memory: "+err.Error())
	} else {
		hs.memUsed, hs.memTotal, hs.hasMem = vm.Used, vm.Total, true
	}
	if len(problems) > 0 {
		return hs, errors.New(strings.Join(problems, "; "))
	}
	return hs, nil
}
