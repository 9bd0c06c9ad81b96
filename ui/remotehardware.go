package ui

import (
	"context"
	"errors"
	"sync"
	"time"

	"usepod.ai/agent/core/telemetry"
)

// HardwareReader reads the agent's hardware sampler: the local API
// client's Hardware. It blocks for one round trip.
type HardwareReader interface {
	Hardware(ctx context.Context) (latest *telemetry.Sample, history []telemetry.Sample, err error)
}

// RemoteHardware is the dashboard's HardwareSource: it reads the agent's
// sampler through the local API, every second while the dashboard shows,
// and never while it is hidden. Run polls.
type RemoteHardware struct {
	client HardwareReader

	mu      sync.Mutex // guards the fields below
	latest  HardwareView
	history []HardwareView
	visible bool
	wake    chan struct{} // buffered: visibility changed
}

// NewRemoteHardware reads through c once Run runs.
func NewRemoteHardware(c HardwareReader) *RemoteHardware {
	return &RemoteHardware{client: c, latest: HardwareView{Err: errors.New("no reading yet")}, wake: make(chan struct{}, 1)}
}

// Run polls while visible until ctx ends. It blocks.
func (h *RemoteHardware) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		h.mu.Lock()
		visible := h.visible
		h.mu.Unlock()
		if visible {
			h.poll(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.wake:
		}
	}
}

func (h *RemoteHardware) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	latest, history, err := h.client.Hardware(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.latest = HardwareView{At: time.Now(), Err: err}
		return
	}
	if latest != nil {
		h.latest = hardwareView(*latest)
	}
	h.history = h.history[:0]
	for _, s := range history {
		h.history = append(h.history, hardwareView(s))
	}
}

func (h *RemoteHardware) Latest() HardwareView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

func (h *RemoteHardware) History() []HardwareView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HardwareView(nil), h.history...)
}

func (h *RemoteHardware) SetVisible(visible bool) {
	h.mu.Lock()
	h.visible = visible
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// hardwareView is what the hardware card shows of one sample.
func hardwareView(s telemetry.Sample) HardwareView {
	v := HardwareView{At: s.At, CPUPercent: s.CPUPercent, MemUsed: s.MemUsed, MemTotal: s.MemTotal}
	if s.Err != "" {
		v.Err = errors.New(s.Err)
	}
	for _, g := range s.GPUs {
		v.GPUs = append(v.GPUs, GPUView{
			Index: g.Index, Name: g.Name,
			UtilPercent: g.UtilPercent, HasUtil: g.Valid.Has(telemetry.FieldUtil),
			MemUsed: g.MemUsed, MemTotal: g.MemTotal, HasMem: g.Valid.Has(telemetry.FieldMemUsed | telemetry.FieldMemTotal),
			TempC: g.TempC, HasTemp: g.Valid.Has(telemetry.FieldTemp),
			PowerW: g.PowerW, PowerLimitW: g.PowerLimitW, HasPower: g.Valid.Has(telemetry.FieldPower),
		})
	}
	return v
}
