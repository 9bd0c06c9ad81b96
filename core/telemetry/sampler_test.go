package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSource is a GPUSource whose Sample runs sample.
type fakeSource struct {
	name   string
	sample func(ctx context.Context) ([]GPU, error)
	closed bool
}

func (f *fakeSource) Name() string                              { return f.name }
func (f *fakeSource) Sample(ctx context.Context) ([]GPU, error) { return f.sample(ctx) }
func (f *fakeSource) Close() error                              { f.closed = true; return nil }

// fakeHost returns fixed CPU and memory readings, or err.
type fakeHost struct {
	stats hostStats
	err   error
}

func (h fakeHost) read(context.Context) (hostStats, error) { return h.stats, h.err }

var testHost = fakeHost{stats: hostStats{cpu: 12.5, hasCPU: true, memUsed: 3 << 30, memTotal: 16 << 30, hasMem: true}}

var oneGPU = []GPU{{Index: 0, Name: "Fake 9000", UtilPercent: 50, Valid: FieldUtil}}

// collector gathers the samples Run passes out.
type collector struct {
	mu      sync.Mutex
	samples []Sample
}

func (c *collector) add(s Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples = append(c.samples, s)
}

func (c *collector) get() []Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Sample(nil), c.samples...)
}

// startSampler runs s in the bubble until the test ends.
func startSampler(t *testing.T, s *Sampler) *collector {
	t.Helper()
	c := &collector{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx, c.add) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return c
}

// offsets returns each sample's time after t0.
func offsets(t0 time.Time, samples []Sample) []time.Duration {
	var d []time.Duration
	for _, s := range samples {
		d = append(d, s.At.Sub(t0))
	}
	return d
}

func TestSamplerSamplesOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &fakeSource{name: "fake", sample: func(context.Context) ([]GPU, error) { return oneGPU, nil }}
		s := NewSampler(Options{GPU: src, Interval: time.Second})
		s.host = testHost
		c := startSampler(t, s)
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()

		got := c.get()
		if want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(offsets(t0, got), want) {
			t.Fatalf("samples at %v, want %v", offsets(t0, got), want)
		}
		smp := got[0]
		if smp.Err != "" || smp.GPUSource != "fake" || len(smp.GPUs) != 1 || smp.GPUs[0] != oneGPU[0] ||
			smp.CPUPercent != 12.5 || !smp.HasCPU || smp.MemUsed != 3<<30 || smp.MemTotal != 16<<30 || !smp.HasMem {
			t.Fatalf("sample = %+v", smp)
		}
		if h := s.History(0); len(h) != 4 || !h[3].At.Equal(got[3].At) {
			t.Fatalf("history = %v", offsets(t0, h))
		}
		if src.closed {
			t.Fatal("Run closed a source it was given")
		}
	})
}

// A source that hangs: the sample still comes, within the timeout, with an
// error and the GPUs of the last good reading marked unavailable; while the
// call hangs the source is not called again; when it comes back, so do the
// readings.
func TestSamplerHangingSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		release := make(chan struct{})
		var mu sync.Mutex
		calls := 0
		src := &fakeSource{name: "stuck", sample: func(ctx context.Context) ([]GPU, error) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 2 {
				<-release // hangs, ignoring ctx, like a wedged driver call
			}
			return oneGPU, nil
		}}
		s := NewSampler(Options{GPU: src, Interval: time.Second, Timeout: 2 * time.Second})
		s.host = testHost
		c := startSampler(t, s)

		time.Sleep(4500 * time.Millisecond)
		synctest.Wait()
		got := c.get()
		// 0 s: good. 1 s: hangs, given up at 3 s. 3 s: overdue, so at once;
		// still busy. 4 s: still busy.
		if want := []time.Duration{0, time.Second, 3 * time.Second, 4 * time.Second}; !slices.Equal(offsets(t0, got), want) {
			t.Fatalf("samples at %v, want %v", offsets(t0, got), want)
		}
		if got[0].Err != "" {
			t.Fatalf("first sample: %+v", got[0])
		}
		if got[1].Err != "gpu source stuck gave no answer within 2s" {
			t.Fatalf("second sample Err = %q", got[1].Err)
		}
		for _, smp := range got[1:] {
			if len(smp.GPUs) != 1 || smp.GPUs[0].Name != "Fake 9000" || smp.GPUs[0].Valid != 0 || !smp.HasCPU {
				t.Fatalf("sample during the hang: %+v", smp)
			}
		}
		if !strings.Contains(got[2].Err, "still busy") || !strings.Contains(got[3].Err, "still busy") {
			t.Fatalf("samples while the call hangs: %q, %q", got[2].Err, got[3].Err)
		}
		mu.Lock()
		if calls != 2 {
			t.Fatalf("source called %d times while hanging, want 2", calls)
		}
		mu.Unlock()

		close(release)
		time.Sleep(time.Second)
		synctest.Wait()
		got = c.get()
		if last := got[len(got)-1]; last.Err != "" || last.GPUs[0].Valid != FieldUtil {
			t.Fatalf("after the source recovered: %+v", last)
		}
	})
}

func TestSamplerPanickingSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{name: "bad", sample: func(context.Context) ([]GPU, error) {
			panic("a bug in the GPU library's binding")
		}}
		s := NewSampler(Options{GPU: src, Interval: time.Second})
		s.host = testHost
		c := startSampler(t, s)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		got := c.get()
		if len(got) != 3 {
			t.Fatalf("%d samples, want 3", len(got))
		}
		for _, smp := range got { // every call panics, and is reported; none is "busy"
			if !strings.HasPrefix(smp.Err, "gpu source bad failed: panic: a bug in the GPU library's binding") ||
				smp.GPUs == nil || len(smp.GPUs) != 0 || !smp.HasCPU {
				t.Fatalf("sample = %+v", smp)
			}
		}
	})
}

func TestSamplerSourceAndHostErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{name: "flaky", sample: func(context.Context) ([]GPU, error) {
			return nil, errors.New("device lost")
		}}
		s := NewSampler(Options{GPU: src})
		s.host = fakeHost{stats: hostStats{memUsed: 1, memTotal: 2, hasMem: true}, err: errors.New("cpu: no /proc/stat")}
		c := startSampler(t, s)
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		smp := c.get()[0]
		if smp.Err != "gpu source flaky: device lost; system stats: cpu: no /proc/stat" ||
			smp.HasCPU || !smp.HasMem || smp.MemTotal != 2 {
			t.Fatalf("sample = %+v", smp)
		}
	})
}

// Without a GPU source a sample has no GPUs and no error.
func TestSampleWithoutGPUSource(t *testing.T) {
	s := NewSampler(Options{})
	s.host = testHost
	smp, ok := s.take(t.Context(), nil, nil, &caller{name: "system stats", timeout: time.Second}, nil)
	if ok || smp.GPUs != nil || smp.GPUSource != "" || smp.Err != "" || !smp.HasCPU {
		t.Fatalf("sample without a GPU source = %+v", smp)
	}
}

func TestSetInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &fakeSource{name: "fake", sample: func(context.Context) ([]GPU, error) { return oneGPU, nil }}
		s := NewSampler(Options{GPU: src, Interval: time.Second})
		s.host = testHost
		c := startSampler(t, s)

		time.Sleep(1500 * time.Millisecond) // samples at 0 and 1 s
		s.SetInterval(30 * time.Second)     // window hidden: next at 31 s
		if s.Interval() != 30*time.Second {
			t.Fatalf("Interval() = %v", s.Interval())
		}
		time.Sleep(8500 * time.Millisecond) // now 10 s
		synctest.Wait()
		if n := len(c.get()); n != 2 {
			t.Fatalf("%d samples by 10 s, want 2", n)
		}
		s.SetInterval(time.Second) // window shown: overdue, so at once
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		want := []time.Duration{0, time.Second, 10 * time.Second, 11 * time.Second, 12 * time.Second}
		if got := offsets(t0, c.get()); !slices.Equal(got, want) {
			t.Fatalf("samples at %v, want %v", got, want)
		}

		s.SetInterval(time.Nanosecond) // clamped
		if s.Interval() != minInterval {
			t.Fatalf("Interval() = %v, want %v", s.Interval(), minInterval)
		}
	})
}

func TestHistoryRing(t *testing.T) {
	s := NewSampler(Options{History: 3})
	if _, ok := s.Latest(); ok || len(s.History(5)) != 0 {
		t.Fatal("a new sampler has history")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	s.add(Sample{At: at(0)})
	s.add(Sample{At: at(1)})
	if got := offsets(t0, s.History(0)); !slices.Equal(got, []time.Duration{0, time.Second}) {
		t.Fatalf("History before wrapping = %v", got)
	}
	for i := 2; i < 5; i++ {
		s.add(Sample{At: at(i)})
	}
	for n, want := range map[int][]time.Duration{
		0:  {2 * time.Second, 3 * time.Second, 4 * time.Second},
		10: {2 * time.Second, 3 * time.Second, 4 * time.Second},
		2:  {3 * time.Second, 4 * time.Second},
		1:  {4 * time.Second},
	} {
		if got := offsets(t0, s.History(n)); !slices.Equal(got, want) {
			t.Errorf("History(%d) = %v, want %v", n, got, want)
		}
	}
	if got := offsets(t0, s.Since(at(3))); !slices.Equal(got, []time.Duration{3 * time.Second, 4 * time.Second}) {
		t.Errorf("Since(3 s) = %v", got)
	}
	if got := s.Since(at(9)); len(got) != 0 {
		t.Errorf("Since(9 s) = %v", got)
	}
	if l, ok := s.Latest(); !ok || !l.At.Equal(at(4)) {
		t.Errorf("Latest = %v, %v", l.At, ok)
	}
}

func TestProbeOrder(t *testing.T) {
	broken := &fakeSource{name: "broken", sample: func(context.Context) ([]GPU, error) { return nil, errors.New("no") }}
	empty := &fakeSource{name: "empty", sample: func(context.Context) ([]GPU, error) { return nil, nil }}
	good := &fakeSource{name: "good", sample: func(context.Context) ([]GPU, error) { return oneGPU, nil }}
	later := &fakeSource{name: "later", sample: func(context.Context) ([]GPU, error) { return oneGPU, nil }}
	open := func(s GPUSource) func() (GPUSource, error) { return func() (GPUSource, error) { return s, nil } }
	got := probe(t.Context(), slogDiscard(), []candidate{
		{"missing", func() (GPUSource, error) { return nil, errNoGPU }},
		{"broken", open(broken)},
		{"empty", open(empty)},
		{"good", open(good)},
		{"later", open(later)},
	})
	if got != good {
		t.Fatalf("probe chose %v, want good", got)
	}
	if !broken.closed || !empty.closed || good.closed || later.closed {
		t.Fatalf("closed: broken %v empty %v good %v later %v", broken.closed, empty.closed, good.closed, later.closed)
	}
	if got := probe(t.Context(), slogDiscard(), []candidate{{"missing", func() (GPUSource, error) { return nil, errNoGPU }}}); got != nil {
		t.Fatalf("probe with nothing found = %v, want nil", got)
	}
}

// TestProbeThisMachine runs the real probe; what it finds depends on the
// machine, so it only checks that a found source reads.
func TestProbeThisMachine(t *testing.T) {
	src := Probe(t.Context(), nil)
	if src == nil {
		t.Log("no GPU source on this machine")
		return
	}
	defer CloseSource(src)
	gpus, err := src.Sample(t.Context())
	if err != nil || len(gpus) == 0 {
		t.Fatalf("%s: %v, %v", src.Name(), gpus, err)
	}
	for _, g := range gpus {
		t.Logf("%s: %+v", src.Name(), g)
	}
}

func TestHostReadsThisMachine(t *testing.T) {
	hs, err := psutilHost{}.read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !hs.hasMem || hs.memTotal == 0 || hs.memUsed > hs.memTotal || !hs.hasCPU || hs.cpu < 0 || hs.cpu > 100 {
		t.Fatalf("host stats = %+v", hs)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// procSource lists procs; with graphics, graphics processes too (as NVML).
type procSource struct {
	fakeSource
	procs    []GPUProcess
	graphics bool
}

func (p *procSource) Processes(context.Context) ([]GPUProcess, error) { return p.procs, nil }

type graphicsSource struct{ procSource }

func (g *graphicsSource) listsGraphics() bool { return g.graphics }

// A sample says whether its process list can show games: NVML lists
// graphics processes, nvidia-smi compute ones only.
func TestSampleSaysWhetherGraphicsAreListed(t *testing.T) {
	s := NewSampler(Options{})
	s.host = testHost
	game := GPUProcess{GPU: 0, PID: 77, Name: "game", SMPercent: 90, HasSM: true}
	base := fakeSource{name: "fake", sample: func(context.Context) ([]GPU, error) { return oneGPU, nil }}
	for _, tc := range []struct {
		name         string
		src          GPUSource
		ok, graphics bool
	}{
		{"compute only (nvidia-smi)", &procSource{fakeSource: base}, true, false},
		{"graphics too (NVML)", &graphicsSource{procSource{fakeSource: base, procs: []GPUProcess{game}, graphics: true}}, true, true},
		{"no process list (AMD, Apple)", &base, false, false},
	} {
		gpu := &caller{name: "gpu source fake", timeout: time.Second}
		host := &caller{name: "system stats", timeout: time.Second}
		smp, _ := s.take(t.Context(), tc.src, gpu, host, nil)
		if smp.ProcsOK != tc.ok || smp.ProcsGraphics != tc.graphics || smp.Err != "" {
			t.Errorf("%s: ProcsOK %v ProcsGraphics %v err %q, want %v %v", tc.name, smp.ProcsOK, smp.ProcsGraphics, smp.Err, tc.ok, tc.graphics)
		}
	}
}
