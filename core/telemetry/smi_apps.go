package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// SMIAppColumns are the fields the nvidia-smi source asks
// --query-compute-apps for, in order.
var SMIAppColumns = []string{"pid", "process_name", "used_memory"}

// Processes lists the compute processes with nvidia-smi
// --query-compute-apps. nvidia-smi cannot say which are graphics
// processes, nor their share of GPU time.
func (s *smiSource) Processes(ctx context.Context) ([]GPUProcess, error) {
	cmd := exec.CommandContext(ctx, s.path,
		"--query-compute-apps="+strings.Join(SMIAppColumns, ","), "--format=csv,noheader,nounits")
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String() + " " + string(out))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("nvidia-smi compute apps: %w: %s", err, msg)
	}
	return ParseSMIApps(out, SMIAppColumns)
}

// ParseSMIApps parses `nvidia-smi --query-compute-apps=... --format=csv`
// output, with or without header and units. When the first line is a
// header (it names a "pid" column) its names are used; otherwise the
// columns are those given. A line for which nvidia-smi says "No running
// processes found" (older drivers) gives none.
func ParseSMIApps(data []byte, columns []string) ([]GPUProcess, error) {
	if bytes.Contains(data, []byte("No running processes found")) {
		return []GPUProcess{}, nil
	}
	recs, err := readSMICSV(data)
	if err != nil {
		return nil, err
	}
	header := columns
	if len(recs) > 0 && isAppsHeader(recs[0]) {
		header, recs = recs[0], recs[1:]
	}
	cols := make([]smiColumn, len(header))
	for i, h := range header {
		cols[i] = parseSMIColumn(h)
	}
	procs := make([]GPUProcess, 0, len(recs))
	for n, row := range recs {
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) != len(cols) {
			return nil, fmt.Errorf("nvidia-smi compute apps line %d: %d fields, want %d (%q)", n+1, len(row), len(cols), strings.Join(row, ","))
		}
		p := GPUProcess{GPU: -1, Compute: true, PID: -1}
		for i, c := range cols {
			v := strings.TrimSpace(row[i])
			switch c.name {
			case "pid":
				if pid, err := strconv.Atoi(v); err == nil {
					p.PID = pid
				}
			case "process_name", "name":
				p.Name = v
			case "used_memory", "used_gpu_memory":
				if x, unit, ok := smiNumber(v); ok {
					if unit == "" {
						unit = c.unit
					}
					p.MemUsed, _ = smiBytes(x, unit)
				}
			}
		}
		if p.PID < 0 {
			return nil, fmt.Errorf("nvidia-smi compute apps line %d: no process id in %q", n+1, strings.Join(row, ","))
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func isAppsHeader(rec []string) bool {
	for _, f := range rec {
		if parseSMIColumn(f).name == "pid" {
			return true
		}
	}
	return false
}
