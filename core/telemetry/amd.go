package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// amdVendor is AMD's PCI vendor id as sysfs writes it.
const amdVendor = "0x1002"

// amdSource reads AMD GPUs from the amdgpu driver's files in sysfs (Linux).
type amdSource struct {
	cards []amdCard
}

type amdCard struct {
	dev  string // <root>/class/drm/cardN/device
	name string
}

// cardDir matches DRM card directories (card0), not their connectors
// (card0-DP-1).
var cardDir = regexp.MustCompile(`^card(\d+)$`)

// newAMDSource finds the AMD GPUs under sysRoot (normally "/sys"), or
// returns errNoGPU. It reads a few small files and does not block long.
func newAMDSource(sysRoot string) (GPUSource, error) {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "class", "drm"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNoGPU
		}
		return nil, fmt.Errorf("amd sysfs: %w", err)
	}
	type numbered struct {
		n    int
		card amdCard
	}
	var found []numbered
	for _, e := range entries {
		m := cardDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		dev := filepath.Join(sysRoot, "class", "drm", e.Name(), "device")
		if v, _ := readTrimmed(filepath.Join(dev, "vendor")); v != amdVendor {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		name, _ := readTrimmed(filepath.Join(dev, "product_name"))
		if name == "" {
			id, _ := readTrimmed(filepath.Join(dev, "device"))
			name = strings.TrimSpace("AMD GPU " + id)
		}
		found = append(found, numbered{n, amdCard{dev: dev, name: name}})
	}
	if len(found) == 0 {
		return nil, errNoGPU
	}
	slices.SortFunc(found, func(a, b numbered) int { return a.n - b.n })
	s := &amdSource{}
	for _, f := range found {
		s.cards = append(s.cards, f.card)
	}
	return s, nil
}

func (s *amdSource) Name() string { return "amd-sysfs" }

// Sample reads each card's files. It blocks only on sysfs reads.
func (s *amdSource) Sample(ctx context.Context) ([]GPU, error) {
	gpus := make([]GPU, 0, len(s.cards))
	for i, c := range s.cards {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g := GPU{Index: i, Name: c.name}
		if v, ok := readUint(filepath.Join(c.dev, "gpu_busy_percent")); ok {
			g.UtilPercent, g.Valid = float64(v), g.Valid|FieldUtil
		}
		if v, ok := readUint(filepath.Join(c.dev, "mem_info_vram_used")); ok {
			g.MemUsed, g.Valid = v, g.Valid|FieldMemUsed
		}
		if v, ok := readUint(filepath.Join(c.dev, "mem_info_vram_total")); ok {
			g.MemTotal, g.Valid = v, g.Valid|FieldMemTotal
		}
		if hw := amdHwmon(c.dev); hw != "" {
			if v, ok := readUint(filepath.Join(hw, "temp1_input")); ok { // millidegrees C
				g.TempC, g.Valid = float64(v)/1000, g.Valid|FieldTemp
			}
			// microwatts; newer kernels have power1_input instead of _average
			for _, f := range []string{"power1_average", "power1_input"} {
				if v, ok := readUint(filepath.Join(hw, f)); ok {
					g.PowerW, g.Valid = float64(v)/1e6, g.Valid|FieldPower
					break
				}
			}
			if v, ok := readUint(filepath.Join(hw, "power1_cap")); ok {
				g.PowerLimitW, g.Valid = float64(v)/1e6, g.Valid|FieldPowerLimit
			}
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

// amdHwmon returns the card's first hwmon directory, or "".
func amdHwmon(dev string) string {
	dirs, _ := filepath.Glob(filepath.Join(dev, "hwmon", "hwmon*"))
	slices.Sort(dirs)
	if len(dirs) == 0 {
		return ""
	}
	return dirs[0]
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func readUint(path string) (uint64, bool) {
	s, err := readTrimmed(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}
