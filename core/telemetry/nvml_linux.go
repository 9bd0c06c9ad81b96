//go:build linux && cgo

package telemetry

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

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

// Processes lists the compute and graphics processes on every device, with
// each one's share of GPU time over the last few seconds where NVML keeps
// it (GetProcessUtilization). Names come from /proc.
func (nvmlSource) Processes(ctx context.Context) ([]GPUProcess, error) {
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvml device count: %s", nvml.ErrorString(ret))
	}
	procs := []GPUProcess{}
	// Utilisation samples newer than this; 10 s back covers a 5 s interval.
	since := uint64(time.Now().Add(-10 * time.Second).UnixMicro())
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		sm := map[uint32]uint32{}
		if us, ret := dev.GetProcessUtilization(since); ret == nvml.SUCCESS {
			for _, u := range us {
				sm[u.Pid] = max(sm[u.Pid], u.SmUtil)
			}
		}
		add := func(list []nvml.ProcessInfo, compute bool) {
			for _, p := range list {
				gp := GPUProcess{GPU: i, PID: int(p.Pid), Name: procName(int(p.Pid)), Compute: compute, MemUsed: p.UsedGpuMemory}
				if u, ok := sm[p.Pid]; ok {
					gp.SMPercent, gp.HasSM = float64(u), true
				}
				procs = append(procs, gp)
			}
		}
		if list, ret := dev.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
			add(list, true)
		}
		if list, ret := dev.GetGraphicsRunningProcesses(); ret == nvml.SUCCESS {
			add(list, false)
		}
	}
	return procs, nil
}

// listsGraphics: Processes lists graphics processes too.
func (nvmlSource) listsGraphics() bool { return true }

var _ graphicsLister = nvmlSource{}

// procName is a process's short name from /proc, or "" when it is gone.
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
