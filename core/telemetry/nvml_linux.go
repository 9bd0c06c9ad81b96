//go:build linux && cgo

package telemetry

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// go-nvml loads libnvidia-ml.so.1 with dlopen at nvml.Init, so the binary
// runs on machines without the NVIDIA driver; there Init returns
// ERROR_LIBRARY_NOT_FOUND. It needs cgo, and builds on Linux only here
// (its loader uses dlfcn.h; Windows has none, and macOS has no NVIDIA GPUs).

// nvmlSource reads NVIDIA GPUs through NVML.
type nvmlSource struct{}

// newNVMLSource initialises NVML. It returns errNoGPU when the driver's
// library is missing or there is no device; that is the normal case on most
// machines. It blocks while the driver initialises (up to a few seconds).
func newNVMLSource() (GPUSource, error) {
	switch ret := nvml.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED, nvml.ERROR_NOT_FOUND:
		return nil, errNoGPU
	default:
		return nil, fmt.Errorf("nvml init: %s", nvml.ErrorString(ret))
	}
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS || n == 0 {
		nvml.Shutdown()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml device count: %s", nvml.ErrorString(ret))
		}
		return nil, errNoGPU
	}
	return nvmlSource{}, nil
}

func (nvmlSource) Name() string { return "nvml" }

// Sample reads every device. NVML calls cannot be interrupted: ctx is only
// checked between devices.
func (nvmlSource) Sample(ctx context.Context) ([]GPU, error) {
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvml device count: %s", nvml.ErrorString(ret))
	}
	gpus := make([]GPU, 0, n)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gpus = append(gpus, GPUFromNVML(readNVML(i)))
	}
	return gpus, nil
}

// readNVML takes device i's readings; a reading NVML refuses is left out.
func readNVML(i int) NVMLReading {
	r := NVMLReading{Index: i, Name: fmt.Sprintf("NVIDIA GPU %d", i)}
	dev, ret := nvml.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return r
	}
	if name, ret := dev.GetName(); ret == nvml.SUCCESS {
		r.Name = name
	}
	if u, ret := dev.GetUtilizationRates(); ret == nvml.SUCCESS {
		r.UtilGPU, r.OK = u.Gpu, r.OK|FieldUtil
	}
	if m, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
		r.MemUsed, r.MemTotal, r.OK = m.Used, m.Total, r.OK|FieldMemUsed|FieldMemTotal
	}
	if t, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		r.TempC, r.OK = t, r.OK|FieldTemp
	}
	if p, ret := dev.GetPowerUsage(); ret == nvml.SUCCESS {
		r.PowerMW, r.OK = p, r.OK|FieldPower
	}
	if p, ret := dev.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
		r.PowerLimitMW, r.OK = p, r.OK|FieldPowerLimit
	}
	return r
}

// Close shuts NVML down.
func (nvmlSource) Close() error {
	if ret := nvml.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %s", nvml.ErrorString(ret))
	}
	return nil
}
