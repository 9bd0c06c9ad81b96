package telemetry

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// SMIColumns are the fields the nvidia-smi source asks for, in order.
var SMIColumns = []string{
	"index", "name", "utilization.gpu", "memory.used", "memory.total",
	"temperature.gpu", "power.draw", "power.limit",
}

// smiSource reads NVIDIA GPUs by running nvidia-smi: the fallback where NVML
// cannot be loaded, and the way on Windows.
type smiSource struct {
	path string // the nvidia-smi executable
}

// newSMISource finds nvidia-smi, or returns errNoGPU.
func newSMISource() (GPUSource, error) {
	if p, err := exec.LookPath("nvidia-smi"); err == nil {
		return &smiSource{path: p}, nil
	}
	if runtime.GOOS == "windows" { // older drivers install it off the PATH
		p := filepath.Join(`C:\Program Files\NVIDIA Corporation\NVSMI`, "nvidia-smi.exe")
		if _, err := exec.LookPath(p); err == nil {
			return &smiSource{path: p}, nil
		}
	}
	return nil, errNoGPU
}

func (s *smiSource) Name() string { return "nvidia-smi" }

// Sample runs nvidia-smi once. It blocks until nvidia-smi exits or ctx is
// done (which kills it).
func (s *smiSource) Sample(ctx context.Context) ([]GPU, error) {
	cmd := exec.CommandContext(ctx, s.path,
		"--query-gpu="+strings.Join(SMIColumns, ","), "--format=csv,noheader,nounits")
	cmd.WaitDelay = time.Second // don't wait on pipes a stuck child holds open
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out)) // nvidia-smi prints its errors on stdout
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("nvidia-smi: %w: %s", err, msg)
	}
	return ParseSMICSVColumns(out, SMIColumns)
}

// ParseSMICSV parses the output of
// `nvidia-smi --query-gpu=... --format=csv` (with or without nounits): a
// header line naming the columns, then one line per GPU. Columns are matched
// by name, in any order; columns it does not use are skipped. Values such as
// "[N/A]" or "[Not Supported]" leave that metric not Valid.
func ParseSMICSV(data []byte) ([]GPU, error) {
	recs, err := readSMICSV(data)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("nvidia-smi csv: no header line")
	}
	return parseSMIRecords(recs[0], recs[1:], 2)
}

// ParseSMICSVColumns parses `--format=csv,noheader[,nounits]` output whose
// columns are the query fields in columns (as passed to --query-gpu), e.g.
// SMIColumns.
func ParseSMICSVColumns(data []byte, columns []string) ([]GPU, error) {
	recs, err := readSMICSV(data)
	if err != nil {
		return nil, err
	}
	return parseSMIRecords(columns, recs, 1)
}

func readSMICSV(data []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true // nvidia-smi separates fields with ", "
	r.FieldsPerRecord = -1    // checked against the columns below
	r.LazyQuotes = true
	var recs [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi csv: %w", err)
		}
		recs = append(recs, rec)
	}
}

// smiColumn is one column of nvidia-smi's CSV: its query name and the unit
// the header gives, if any ("MiB" for "memory.used [MiB]").
type smiColumn struct {
	name, unit string
}

func parseSMIColumn(h string) smiColumn {
	h = strings.TrimSpace(h)
	var c smiColumn
	if i := strings.IndexByte(h, '['); i >= 0 {
		c.unit = strings.Trim(strings.TrimSpace(h[i:]), "[]")
		h = h[:i]
	}
	c.name = strings.ToLower(strings.TrimSpace(h))
	return c
}

// parseSMIRecords turns rows into GPUs; firstLine numbers rows in errors.
func parseSMIRecords(header []string, rows [][]string, firstLine int) ([]GPU, error) {
	cols := make([]smiColumn, len(header))
	for i, h := range header {
		cols[i] = parseSMIColumn(h)
	}
	gpus := make([]GPU, 0, len(rows))
	for n, row := range rows {
		if len(row) != len(cols) {
			return nil, fmt.Errorf("nvidia-smi csv line %d: %d fields, want %d (%q)",
				firstLine+n, len(row), len(cols), strings.Join(row, ","))
		}
		g := GPU{Index: n}
		for i, c := range cols {
			setSMIField(&g, c, strings.TrimSpace(row[i]))
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

// setSMIField stores one value in g; a value it cannot read leaves the
// metric not Valid.
func setSMIField(g *GPU, c smiColumn, v string) {
	switch c.name {
	case "index":
		if i, err := strconv.Atoi(v); err == nil {
			g.Index = i
		}
		return
	case "name":
		g.Name = v
		return
	}
	var f Field
	switch c.name {
	case "utilization.gpu":
		f = FieldUtil
	case "memory.used":
		f = FieldMemUsed
	case "memory.total":
		f = FieldMemTotal
	case "temperature.gpu":
		f = FieldTemp
	case "power.draw", "power.draw.instant", "power.draw.average":
		f = FieldPower
		if g.Valid.Has(FieldPower) { // power.draw wins if several are asked for
			return
		}
	case "power.limit", "enforced.power.limit":
		f = FieldPowerLimit
		if g.Valid.Has(FieldPowerLimit) {
			return
		}
	default:
		return // a column we don't use
	}
	x, unit, ok := smiNumber(v)
	if !ok {
		return
	}
	if unit == "" {
		unit = c.unit
	}
	switch f {
	case FieldUtil:
		g.UtilPercent = x
	case FieldMemUsed, FieldMemTotal:
		b, ok := smiBytes(x, unit)
		if !ok {
			return
		}
		if f == FieldMemUsed {
			g.MemUsed = b
		} else {
			g.MemTotal = b
		}
	case FieldTemp:
		g.TempC = x
	case FieldPower:
		g.PowerW = x
	case FieldPowerLimit:
		g.PowerLimitW = x
	}
	g.Valid |= f
}

// smiNumber reads "542.22", "100 %" or "1011 MiB": the number and the unit
// after it. "[N/A]", "[Not Supported]" and other bracketed notes are not
// numbers.
func smiNumber(v string) (x float64, unit string, ok bool) {
	if v == "" || strings.HasPrefix(v, "[") || strings.EqualFold(v, "N/A") {
		return 0, "", false
	}
	num, unit, _ := strings.Cut(v, " ")
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || x < 0 {
		return 0, "", false
	}
	return x, strings.TrimSpace(unit), true
}

// smiBytes converts a memory amount in unit (nvidia-smi uses MiB; MiB is
// assumed when none is given) to bytes.
func smiBytes(x float64, unit string) (uint64, bool) {
	var scale float64
	switch strings.ToLower(unit) {
	case "", "mib", "mb":
		scale = 1 << 20
	case "gib", "gb":
		scale = 1 << 30
	case "kib", "kb":
		scale = 1 << 10
	case "b":
		scale = 1
	default:
		return 0, false
	}
	return uint64(x * scale), true
}
