//go:build !nogui

package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/core/telemetry"
	"usepod.ai/agent/ui"
)

// remoteHardware is the dashboard's HardwareSource: it reads the agent's
// sampler through the local API, every second while the dashboard shows,
// and never while it is hidden.
type remoteHardware struct {
	client *localapi.Client

	mu      sync.Mutex // guards the fields below
	latest  ui.HardwareView
	history []ui.HardwareView
	visible bool
	wake    chan struct{} // buffered: visibility changed
}

func newRemoteHardware(c *localapi.Client) *remoteHardware {
	return &remoteHardware{client: c, latest: ui.HardwareView{Err: errors.New("no reading yet")}, wake: make(chan struct{}, 1)}
}

// run polls while visible until ctx ends. It blocks.
func (h *remoteHardware) run(ctx context.Context) {
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

func (h *remoteHardware) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	latest, history, err := h.client.Hardware(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.latest = ui.HardwareView{At: time.Now(), Err: err}
		return
	}
	if latest != nil {
		h.latest = view(*latest)
	}
	h.history = h.history[:0]
	for _, s := range history {
		h.history = append(h.history, view(s))
	}
}

func (h *remoteHardware) Latest() ui.HardwareView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

func (h *remoteHardware) History() []ui.HardwareView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ui.HardwareView(nil), h.history...)
}

func (h *remoteHardware) SetVisible(visible bool) {
	h.mu.Lock()
	h.visible = visible
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func view(s telemetry.Sample) ui.HardwareView {
	v := ui.HardwareView{At: s.At, CPUPercent: s.CPUPercent, MemUsed: s.MemUsed, MemTotal: s.MemTotal}
	if s.Err != "" {
		v.Err = errors.New(s.Err)
	}
	for _, g := range s.GPUs {
		v.GPUs = append(v.GPUs, ui.GPUView{
			Index: g.Index, Name: g.Name,
			UtilPercent: g.UtilPercent, HasUtil: g.Valid.Has(telemetry.FieldUtil),
			MemUsed: g.MemUsed, MemTotal: g.MemTotal, HasMem: g.Valid.Has(telemetry.FieldMemUsed | telemetry.FieldMemTotal),
			TempC: g.TempC, HasTemp: g.Valid.Has(telemetry.FieldTemp),
			PowerW: g.PowerW, PowerLimitW: g.PowerLimitW, HasPower: g.Valid.Has(telemetry.FieldPower),
		})
	}
	return v
}
