//go:build !(linux && cgo)

package telemetry

// newNVMLSource reports no NVML here: go-nvml needs cgo and Linux in this
// build. nvidia-smi still covers NVIDIA GPUs (it is the Windows path).
func newNVMLSource() (GPUSource, error) { return nil, errNoGPU }
