// Package telemetry samples the machine's GPUs, CPU and memory for the
// dashboard. It has no UI: a Sampler produces Samples on an interval and
// keeps a short history for sparklines.
//
// GPUs are read through a GPUSource: NVML (the NVIDIA driver's library),
// nvidia-smi, AMD's sysfs files on Linux, or ioreg on Apple Silicon. Probe
// picks the first that works on this machine; a machine with none simply has
// no GPUs in its samples.
package telemetry

import (
	"context"
	"errors"
	"time"
)

// Sample is one reading of the machine.
type Sample struct {
	At time.Time
	// GPUs as the GPU source reported them, or, when it failed this time,
	// the GPUs of the last good reading with no metric valid (Valid == 0),
	// so a display keeps its rows and shows them as unavailable.
	GPUs []GPU
	// GPUSource names the source GPUs were read from ("" when none).
	GPUSource string
	// Procs are the programs using the GPUs, where the source can tell
	// (ProcsOK); the earning policies look for programs other than the
	// inference servers.
	Procs   []GPUProcess
	ProcsOK bool
	// ProcsGraphics: Procs include the graphics processes (games, 3D
	// programs), as NVML lists them. nvidia-smi lists compute processes
	// only, so there a game is not among them.
	ProcsGraphics bool

	CPUPercent float64 // all cores together, 0 to 100; valid when HasCPU
	HasCPU     bool
	MemUsed    uint64 // bytes of system memory in use; valid when HasMem
	MemTotal   uint64 // bytes
	HasMem     bool

	// Err says what could not be read this time ("" when everything
	// worked). The parts that were read are still valid.
	Err string
}

// GPU is one GPU's reading. A metric a source could not read is zero and
// its bit in Valid is clear: test with g.Valid.Has(FieldTemp), not with the
// value (0 % utilisation and 0 W are real readings).
type GPU struct {
	Index       int    // the source's index for the device, from 0
	Name        string // e.g. "NVIDIA H200"
	UtilPercent float64
	MemUsed     uint64 // bytes
	MemTotal    uint64 // bytes
	TempC       float64
	PowerW      float64 // current draw
	PowerLimitW float64 // the enforced limit
	Valid       Field   // which of the metrics above hold a reading
}

// Field is a set of GPU metrics, used as GPU.Valid.
type Field uint8

// The GPU metrics.
const (
	FieldUtil Field = 1 << iota
	FieldMemUsed
	FieldMemTotal
	FieldTemp
	FieldPower
	FieldPowerLimit

	FieldAll = FieldUtil | FieldMemUsed | FieldMemTotal | FieldTemp | FieldPower | FieldPowerLimit
)

// Has reports whether f holds every metric in x.
func (f Field) Has(x Field) bool { return f&x == x }

// GPUSource reads the GPUs of one kind. Implementations need not be safe for
// concurrent use: the Sampler makes one call at a time.
type GPUSource interface {
	// Sample reads every GPU the source knows, into a new slice each time
	// (samples keep it). It blocks, for as long as the driver takes; it
	// should give up when ctx is done.
	Sample(ctx context.Context) ([]GPU, error)
	// Name is a short name for logs and the dashboard, e.g. "nvml".
	Name() string
}

// GPUProcess is one program using a GPU.
type GPUProcess struct {
	GPU  int // the GPU's index; -1 when the source does not say
	PID  int
	Name string // the program's name, as short as the source gives it
	// Compute is a compute (CUDA, OpenCL) context; otherwise a graphics one.
	Compute bool
	MemUsed uint64 // bytes; 0 when unknown
	// SMPercent is its share of the GPU's time, 0 to 100, when HasSM.
	SMPercent float64
	HasSM     bool
}

// ProcessSource is a GPUSource that can also list the programs using the
// GPUs. The Sampler calls it right after Sample, on the same goroutine.
type ProcessSource interface {
	Processes(ctx context.Context) ([]GPUProcess, error)
}

// graphicsLister is a ProcessSource whose list includes graphics
// processes, not compute ones only (Sample.ProcsGraphics).
type graphicsLister interface{ listsGraphics() bool }

// errNoGPU says a source found no device of its kind on this machine (a
// normal outcome, not a failure).
var errNoGPU = errors.New("no such GPU on this machine")
