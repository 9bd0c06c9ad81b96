package telemetry

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSMIAppsRecordings(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "real", "nvidia")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	procs, err := ParseSMIApps(read("smi_apps.csv"), SMIAppColumns)
	if err != nil || len(procs) != 0 {
		t.Fatalf("idle: %v, %v; want none", procs, err)
	}
	procs, err = ParseSMIApps(read("smi_apps_load.csv"), SMIAppColumns)
	if err != nil || len(procs) != 1 {
		t.Fatalf("load: %v, %v; want one", procs, err)
	}
	if p := procs[0]; p.PID != 422 || p.Name != "python3" || p.MemUsed != 1002<<20 || !p.Compute || p.GPU != -1 {
		t.Errorf("load: %+v", p)
	}
}

func TestParseSMIAppsForms(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		cols     []string
		want     []GPUProcess
		wantErr  bool
	}{
		{"noheader nounits", "422, python3, 1002\n77, blender, [N/A]\n", SMIAppColumns,
			[]GPUProcess{{GPU: -1, PID: 422, Name: "python3", Compute: true, MemUsed: 1002 << 20}, {GPU: -1, PID: 77, Name: "blender", Compute: true}}, false},
		{"header reordered", "process_name, pid, used_gpu_memory [MiB]\nx, 5, 10 MiB\n", SMIAppColumns,
			[]GPUProcess{{GPU: -1, PID: 5, Name: "x", Compute: true, MemUsed: 10 << 20}}, false},
		{"empty", "", SMIAppColumns, []GPUProcess{}, false},
		{"old driver", "No running processes found\n", SMIAppColumns, []GPUProcess{}, false},
		{"short row", "422, python3\n", SMIAppColumns, nil, true},
		{"bad pid", "[N/A], python3, 5\n", SMIAppColumns, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSMIApps([]byte(tc.in), tc.cols)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
