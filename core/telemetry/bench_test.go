package telemetry

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkSMISampleAndProcesses is one GPU reading through nvidia-smi as
// the sampler takes it: the GPU query and the compute-apps query, two
// processes. It runs a stand-in nvidia-smi (a shell script printing the
// H200 recordings), so it measures the cost of starting the two
// processes, not the real nvidia-smi's own work.
func BenchmarkSMISampleAndProcesses(b *testing.B) {
	if runtime.GOOS == "windows" {
		b.Skip("the stand-in is a shell script")
	}
	dir := b.TempDir()
	fix := filepath.Join("..", "..", "..", "shared", "fixtures", "real", "nvidia")
	script := "#!/bin/sh\ncase \"$1\" in --query-compute-apps=*) tail -n +2 " + filepath.Join(fix, "smi_apps_load.csv") + " | sed 's/ MiB//' ;; *) tail -n 1 " + filepath.Join(fix, "smi_load.csv") + " | cut -d, -f1,2,5,7,8,9,10,11 ;; esac\n"
	path := filepath.Join(dir, "nvidia-smi")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	src := &smiSource{path: path}
	ctx := context.Background()
	for b.Loop() {
		gpus, err := src.Sample(ctx)
		if err != nil || len(gpus) != 1 {
			b.Fatalf("%v %v", gpus, err)
		}
		procs, err := src.Processes(ctx)
		if err != nil || len(procs) != 1 {
			b.Fatalf("%v %v", procs, err)
		}
	}
}

// BenchmarkServerPIDs is telling the inference servers' processes apart,
// which runs only while some program uses the GPU.
func BenchmarkServerPIDs(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pids := []int{os.Getpid(), 1}
	for b.Loop() {
		ServerPIDs([]int{port, 11434, 8000, 8080, 1234}, pids)
	}
}
