//go:build !nogui

package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"usepod.ai/agent/core/telemetry"
	"usepod.ai/agent/ui"
)

// Sampling intervals: every second while the dashboard shows the figures,
// rarely while nobody looks, so a hidden app costs next to nothing.
const (
	hardwareVisibleEvery = time.Second
	hardwareHiddenEvery  = 30 * time.Second
	hardwareHistory      = 300 // five minutes at one sample a second
)

// hardware adapts the telemetry sampler to the dashboard's HardwareSource.
type hardware struct{ s *telemetry.Sampler }

func newHardware(log *slog.Logger) *hardware {
	return &hardware{s: telemetry.NewSampler(telemetry.Options{
		Interval: hardwareHiddenEvery,
		History:  hardwareHistory,
		Logger:   log.With("component", "telemetry"),
	})}
}

// run samples until ctx ends. It blocks.
func (h *hardware) run(ctx context.Context) { h.s.Run(ctx, nil) }

func (h *hardware) Latest() ui.HardwareView {
	s, ok := h.s.Latest()
	if !ok {
		return ui.HardwareView{Err: errors.New("no reading yet")}
	}
	return view(s)
}

func (h *hardware) History() []ui.HardwareView {
	samples := h.s.History(hardwareHistory)
	out := make([]ui.HardwareView, len(samples))
	for i, s := range samples {
		out[i] = view(s)
	}
	return out
}

func (h *hardware) SetVisible(visible bool) {
	if visible {
		h.s.SetInterval(hardwareVisibleEvery)
	} else {
		h.s.SetInterval(hardwareHiddenEvery)
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
