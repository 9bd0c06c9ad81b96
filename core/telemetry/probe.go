package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"time"
)

// probeTimeout bounds each candidate's first reading during Probe.
const probeTimeout = 5 * time.Second

// candidate is a GPU source Probe may try.
type candidate struct {
	name string
	open func() (GPUSource, error)
}

func candidates() []candidate {
	cs := []candidate{
		{"nvml", newNVMLSource},
		{"nvidia-smi", newSMISource},
	}
	switch runtime.GOOS {
	case "linux":
		cs = append(cs, candidate{"amd-sysfs", func() (GPUSource, error) { return newAMDSource("/sys") }})
	case "darwin":
		cs = append(cs, candidate{"ioreg", newIORegSource})
	}
	return cs
}

// Probe finds how to read this machine's GPUs: NVML, then nvidia-smi, then
// AMD's sysfs files (Linux), then ioreg (macOS). It returns the first source
// that reads at least one GPU, or nil when there is none, which is normal on
// many machines. A returned source may hold resources (NVML); close it with
// CloseSource. Probe blocks, at most a few seconds per candidate; log may be
// nil, and gets component=telemetry from Probe.
func Probe(ctx context.Context, log *slog.Logger) GPUSource {
	return probe(ctx, componentLog(log), candidates())
}

// componentLog is log with this package's component attribute; nil
// discards. The callers of the package give a logger without it.
func componentLog(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log.With("component", "telemetry")
}

func probe(ctx context.Context, log *slog.Logger, cs []candidate) GPUSource {
	for _, c := range cs {
		if ctx.Err() != nil {
			return nil
		}
		src, err := c.open() // NVML init cannot be interrupted; it is quick
		if err != nil {
			if !errors.Is(err, errNoGPU) {
				log.Info("gpu source unusable", "source", c.name, "err", err)
			}
			continue
		}
		caller := &caller{name: "gpu source " + c.name, timeout: probeTimeout}
		gpus, err := call(ctx, caller, src.Sample)
		if err == nil && len(gpus) > 0 {
			log.Info("reading gpus", "source", c.name, "gpus", len(gpus))
			return src
		}
		if err != nil && !errors.Is(err, errNoGPU) {
			log.Info("gpu source unusable", "source", c.name, "err", err)
		}
		if !caller.busy.Load() { // a stuck source is left alone, not closed under it
			CloseSource(src)
		}
	}
	log.Info("no gpu found")
	return nil
}

// CloseSource releases what src holds, if anything (NVML's library).
func CloseSource(src GPUSource) error {
	if c, ok := src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
