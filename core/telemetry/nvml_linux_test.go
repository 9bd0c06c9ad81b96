//go:build linux && cgo

package telemetry

import (
	"errors"
	"testing"
)

// TestNVMLLive reads this machine's NVIDIA GPUs through NVML, and compares
// them with nvidia-smi when it is installed. Without the NVIDIA driver NVML
// must say "no GPU" (errNoGPU), not fail.
func TestNVMLLive(t *testing.T) {
	src, err := newNVMLSource()
	if errors.Is(err, errNoGPU) {
		t.Skip("no NVIDIA driver on this machine: NVML reports no GPU, as it should")
	}
	if err != nil {
		t.Fatalf("NVML on a machine with the driver: %v", err)
	}
	defer CloseSource(src)
	gpus, err := src.Sample(t.Context())
	if err != nil || len(gpus) == 0 {
		t.Fatalf("nvml: %v, %v", gpus, err)
	}
	for _, g := range gpus {
		t.Logf("nvml: %+v", g)
		if g.Name == "" || !g.Valid.Has(FieldMemUsed|FieldMemTotal|FieldUtil) || g.MemTotal == 0 || g.MemUsed > g.MemTotal ||
			g.UtilPercent < 0 || g.UtilPercent > 100 {
			t.Errorf("nvml reading %+v", g)
		}
		if g.Valid.Has(FieldPower|FieldPowerLimit) && (g.PowerW <= 0 || g.PowerW > 2*g.PowerLimitW) {
			t.Errorf("nvml power %.3f W of %.3f W", g.PowerW, g.PowerLimitW)
		}
	}

	smi, err := newSMISource()
	if err != nil {
		t.Log("no nvidia-smi to compare with")
		return
	}
	sg, err := smi.Sample(t.Context())
	if err != nil {
		t.Fatalf("nvidia-smi: %v", err)
	}
	if len(sg) != len(gpus) {
		t.Fatalf("nvidia-smi sees %d GPUs, NVML %d", len(sg), len(gpus))
	}
	for i, g := range sg {
		t.Logf("nvidia-smi: %+v", g)
		n := gpus[i]
		if g.Name != n.Name || g.Index != n.Index {
			t.Errorf("GPU %d: nvidia-smi %q, NVML %q", i, g.Name, n.Name)
		}
		if diff := int64(g.MemTotal) - int64(n.MemTotal); diff < -(1<<20) || diff > 1<<20 {
			t.Errorf("GPU %d: memory total nvidia-smi %d, NVML %d", i, g.MemTotal, n.MemTotal)
		}
		if g.Valid.Has(FieldPowerLimit) && n.Valid.Has(FieldPowerLimit) && g.PowerLimitW != n.PowerLimitW {
			t.Errorf("GPU %d: power limit nvidia-smi %v, NVML %v", i, g.PowerLimitW, n.PowerLimitW)
		}
	}
}
