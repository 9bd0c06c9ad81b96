package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ioregArgs list the IOAccelerator (GPU) nodes with their properties.
var ioregArgs = []string{"-r", "-d", "1", "-w", "0", "-c", "IOAccelerator"}

// ioregSource reads Apple GPUs (Apple Silicon) through ioreg, which needs no
// privileges. ioreg has utilisation and memory; temperature and power need
// root (powermetrics) and are left out.
type ioregSource struct {
	path string
}

func newIORegSource() (GPUSource, error) {
	p, err := exec.LookPath("ioreg")
	if err != nil {
		return nil, errNoGPU
	}
	return &ioregSource{path: p}, nil
}

func (s *ioregSource) Name() string { return "ioreg" }

// Sample runs ioreg once; it blocks until ioreg exits or ctx is done.
func (s *ioregSource) Sample(ctx context.Context) ([]GPU, error) {
	cmd := exec.CommandContext(ctx, s.path, ioregArgs...)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ioreg: %w", err)
	}
	gpus, err := ParseIOReg(out)
	if err == nil && len(gpus) == 0 {
		return nil, errNoGPU
	}
	return gpus, err
}

// ParseIOReg parses `ioreg -r -d 1 -w 0 -c IOAccelerator`: one GPU per
// "+-o" node. From the node's "PerformanceStatistics" it takes
// "Device Utilization %" and "In use system memory" (bytes; "Alloc system
// memory" when that is missing). Apple GPUs share system memory, so
// MemTotal is not Valid: the sample's system memory is the pool. The name is
// the node's "model" ("Apple M2 Pro"), else its class.
func ParseIOReg(data []byte) ([]GPU, error) {
	var gpus []GPU
	var g *GPU
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20) // -w 0 puts a whole dictionary on one line
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " |")
		if rest, ok := strings.CutPrefix(line, "+-o "); ok {
			gpus = append(gpus, GPU{Index: len(gpus), Name: strings.Fields(rest + " ?")[0]})
			g = &gpus[len(gpus)-1]
			continue
		}
		if g == nil {
			continue
		}
		key, value, ok := ioregProperty(line)
		if !ok {
			continue
		}
		switch key {
		case "model":
			if name, ok := value.(string); ok && name != "" {
				g.Name = name
			}
		case "PerformanceStatistics":
			stats, ok := value.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("ioreg: PerformanceStatistics of %s is not a dictionary", g.Name)
			}
			if v, ok := stats["Device Utilization %"].(float64); ok {
				g.UtilPercent, g.Valid = v, g.Valid|FieldUtil
			}
			for _, k := range []string{"In use system memory", "Alloc system memory"} {
				if v, ok := stats[k].(float64); ok && v >= 0 {
					g.MemUsed, g.Valid = uint64(v), g.Valid|FieldMemUsed
					break
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ioreg: %w", err)
	}
	return gpus, nil
}

// ioregProperty reads a property line, `"key" = value`.
func ioregProperty(line string) (key string, value any, ok bool) {
	p := &ioregParser{s: line}
	key, ok = p.str()
	if !ok {
		return "", nil, false
	}
	p.space()
	if !p.eat('=') {
		return "", nil, false
	}
	value, ok = p.value()
	return key, value, ok
}

// ioregParser reads ioreg's property values: "strings", numbers,
// {"dictionaries"=...,...}, (arrays,...), <data> and bare words (Yes, No).
// Dictionaries become map[string]any, numbers float64, strings string;
// other values are kept as raw strings.
type ioregParser struct {
	s string
	i int
}

func (p *ioregParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *ioregParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *ioregParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	end := strings.IndexByte(p.s[p.i:], '"')
	if end < 0 {
		return "", false
	}
	s := p.s[p.i : p.i+end]
	p.i += end + 1
	return s, true
}

func (p *ioregParser) value() (any, bool) {
	p.space()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch p.s[p.i] {
	case '"':
		return p.str()
	case '{':
		p.i++
		m := map[string]any{}
		for !p.eat('}') {
			k, ok := p.str()
			if !ok || !p.eat('=') {
				return nil, false
			}
			v, ok := p.value()
			if !ok {
				return nil, false
			}
			m[k] = v
			p.eat(',')
		}
		return m, true
	case '(':
		p.i++
		var a []any
		for !p.eat(')') {
			v, ok := p.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			p.eat(',')
		}
		return a, true
	case '<':
		end := strings.IndexByte(p.s[p.i:], '>')
		if end < 0 {
			return nil, false
		}
		v := p.s[p.i : p.i+end+1]
		p.i += end + 1
		return v, true
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",}) \t", rune(p.s[p.i])) {
		p.i++
	}
	word := p.s[start:p.i]
	if word == "" {
		return nil, false
	}
	if x, err := strconv.ParseFloat(word, 64); err == nil {
		return x, true
	}
	return word, true
}
