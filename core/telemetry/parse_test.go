package telemetry

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const mib = 1 << 20

// recordedColumns are the --query-gpu fields of the recordings in testdata
// (see ../../../shared/fixtures/real/nvidia/README.md).
var recordedColumns = strings.Split("index,name,uuid,driver_version,utilization.gpu,utilization.memory,"+
	"memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,fan.speed,pstate", ",")

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSMILoadRecording(t *testing.T) {
	gpus, err := ParseSMICSVColumns(readTestdata(t, "smi_load.csv"), recordedColumns)
	if err != nil {
		t.Fatal(err)
	}
	if len(gpus) != 5 { // one line a second, all GPU 0
		t.Fatalf("%d lines parsed, want 5", len(gpus))
	}
	want := []GPU{
		{Name: "NVIDIA H200", UtilPercent: 0, MemUsed: 0, MemTotal: 143771 * mib, TempC: 39, PowerW: 79.76, PowerLimitW: 700, Valid: FieldAll},
		{Name: "NVIDIA H200", UtilPercent: 0, MemUsed: 0, MemTotal: 143771 * mib, TempC: 39, PowerW: 79.79, PowerLimitW: 700, Valid: FieldAll},
		{Name: "NVIDIA H200", UtilPercent: 0, MemUsed: 0, MemTotal: 143771 * mib, TempC: 39, PowerW: 79.77, PowerLimitW: 700, Valid: FieldAll},
		{Name: "NVIDIA H200", UtilPercent: 0, MemUsed: 1 * mib, MemTotal: 143771 * mib, TempC: 39, PowerW: 79.83, PowerLimitW: 700, Valid: FieldAll},
		// under load: 100 %, 1011 MiB, 60 C, 542.22 W
		{Name: "NVIDIA H200", UtilPercent: 100, MemUsed: 1011 * mib, MemTotal: 143771 * mib, TempC: 60, PowerW: 542.22, PowerLimitW: 700, Valid: FieldAll},
	}
	if !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got  %+v\nwant %+v", gpus, want)
	}
}

func TestParseSMIIdleWithAndWithoutHeader(t *testing.T) {
	want := []GPU{{Index: 0, Name: "NVIDIA H200", UtilPercent: 0, MemUsed: 0, MemTotal: 143771 * mib,
		TempC: 38, PowerW: 125.73, PowerLimitW: 700, Valid: FieldAll}}

	noHeader, err := ParseSMICSVColumns(readTestdata(t, "smi_idle.csv"), recordedColumns)
	if err != nil {
		t.Fatal(err)
	}
	// The header form carries units in the header ("memory.used [MiB]") and
	// in the values ("0 MiB", "125.73 W"), and names clocks.sm differently.
	withHeader, err := ParseSMICSV(readTestdata(t, "smi_idle_header.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(noHeader, want) {
		t.Errorf("noheader: got %+v\nwant %+v", noHeader, want)
	}
	if !reflect.DeepEqual(withHeader, want) {
		t.Errorf("header: got %+v\nwant %+v", withHeader, want)
	}
}

func TestParseSMINotAvailable(t *testing.T) {
	// A laptop GPU that reports no power, and one whose every metric failed.
	data := "0, NVIDIA GeForce RTX 3060 Laptop GPU, 7, 315, 6144, 45, [N/A], [Not Supported]\n" +
		"1, NVIDIA T400, [Unknown Error], [N/A], [N/A], [N/A], [N/A], [N/A]\n"
	gpus, err := ParseSMICSVColumns([]byte(data), SMIColumns)
	if err != nil {
		t.Fatal(err)
	}
	want := []GPU{
		{Index: 0, Name: "NVIDIA GeForce RTX 3060 Laptop GPU", UtilPercent: 7, MemUsed: 315 * mib, MemTotal: 6144 * mib,
			TempC: 45, Valid: FieldUtil | FieldMemUsed | FieldMemTotal | FieldTemp},
		{Index: 1, Name: "NVIDIA T400"},
	}
	if !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got  %+v\nwant %+v", gpus, want)
	}
	if gpus[0].Valid.Has(FieldPower) || !gpus[0].Valid.Has(FieldTemp|FieldUtil) {
		t.Fatalf("Valid = %b", gpus[0].Valid)
	}
}

func TestParseSMIColumnsByName(t *testing.T) {
	data := "power.limit [W], name, memory.total [MiB], index, power.draw.instant [W], utilization.gpu [%], memory.used [MiB], temperature.gpu\n" +
		"450.00 W, NVIDIA GeForce RTX 4090, 24564 MiB, 1, 301.50 W, 88 %, 20000 MiB, 71\n"
	gpus, err := ParseSMICSV([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []GPU{{Index: 1, Name: "NVIDIA GeForce RTX 4090", UtilPercent: 88, MemUsed: 20000 * mib,
		MemTotal: 24564 * mib, TempC: 71, PowerW: 301.5, PowerLimitW: 450, Valid: FieldAll}}
	if !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got  %+v\nwant %+v", gpus, want)
	}
}

func TestParseSMIBadOutput(t *testing.T) {
	for name, data := range map[string]string{
		"driver down": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
			"Make sure that the latest NVIDIA driver is installed and running.\n",
		"short line": "0, NVIDIA H200, 0, 0\n",
	} {
		if gpus, err := ParseSMICSVColumns([]byte(data), SMIColumns); err == nil {
			t.Errorf("%s: parsed %+v, want an error", name, gpus)
		}
	}
	if gpus, err := ParseSMICSVColumns(nil, SMIColumns); err != nil || len(gpus) != 0 {
		t.Errorf("empty output: %v, %v", gpus, err)
	}
	if _, err := ParseSMICSV(nil); err == nil {
		t.Error("ParseSMICSV without a header should fail")
	}
}

// nvmlLine is one line of the NVML recordings.
type nvmlLine struct {
	Index        int    `json:"index"`
	Name         string `json:"name"`
	UtilGPU      uint32 `json:"util_gpu"`
	MemUsed      uint64 `json:"mem_used"`
	MemTotal     uint64 `json:"mem_total"`
	TempC        uint32 `json:"temp_c"`
	PowerMW      uint32 `json:"power_mw"`
	PowerLimitMW uint32 `json:"power_limit_mw"`
}

func readNVMLRecording(t *testing.T, name string) []GPU {
	t.Helper()
	var gpus []GPU
	sc := bufio.NewScanner(strings.NewReader(string(readTestdata(t, name))))
	for sc.Scan() {
		var l nvmlLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		gpus = append(gpus, GPUFromNVML(NVMLReading{
			Index: l.Index, Name: l.Name, UtilGPU: l.UtilGPU, MemUsed: l.MemUsed, MemTotal: l.MemTotal,
			TempC: l.TempC, PowerMW: l.PowerMW, PowerLimitMW: l.PowerLimitMW, OK: FieldAll,
		}))
	}
	return gpus
}

func TestNVMLRecordings(t *testing.T) {
	load := readNVMLRecording(t, "nvml_load.jsonl")
	if len(load) != 12 {
		t.Fatalf("%d readings, want 12", len(load))
	}
	for i, g := range load {
		busy := i >= 4 // the load starts at the 5th line
		if (g.UtilPercent == 100) != busy || g.Valid != FieldAll || g.PowerLimitW != 700 || g.MemTotal != 150754820096 {
			t.Errorf("reading %d: %+v", i, g)
		}
	}
	want := GPU{Index: 0, Name: "NVIDIA H200", UtilPercent: 100, MemUsed: 1704853504, MemTotal: 150754820096,
		TempC: 59, PowerW: 692.601, PowerLimitW: 700, Valid: FieldAll}
	if load[5] != want {
		t.Errorf("6th load reading: got %+v\nwant %+v", load[5], want)
	}
	if load[0].PowerW != 77.905 || load[0].MemUsed != 644939776 {
		t.Errorf("first load reading: %+v", load[0])
	}

	idle := readNVMLRecording(t, "nvml_idle.jsonl")
	if len(idle) != 12 || idle[0].PowerW != 132.275 || idle[0].UtilPercent != 3 || idle[11].PowerW != 78.407 || idle[11].UtilPercent != 0 {
		t.Errorf("idle readings: first %+v, last %+v", idle[0], idle[len(idle)-1])
	}
}

func TestGPUFromNVMLPartial(t *testing.T) {
	g := GPUFromNVML(NVMLReading{Index: 2, Name: "Tesla T4", UtilGPU: 40, TempC: 50, PowerMW: 27_500, MemUsed: 99,
		OK: FieldUtil | FieldPower})
	want := GPU{Index: 2, Name: "Tesla T4", UtilPercent: 40, PowerW: 27.5, Valid: FieldUtil | FieldPower}
	if g != want {
		t.Fatalf("got %+v, want %+v", g, want)
	}
}

// writeFiles creates files (path -> content) under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAMDSysfs(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		// An RX 6800 with everything, on an older kernel (power1_average).
		"class/drm/card1/device/vendor":                      "0x1002\n",
		"class/drm/card1/device/device":                      "0x73bf\n",
		"class/drm/card1/device/gpu_busy_percent":            "37\n",
		"class/drm/card1/device/mem_info_vram_used":          "2147483648\n",
		"class/drm/card1/device/mem_info_vram_total":         "17163091968\n",
		"class/drm/card1/device/hwmon/hwmon3/temp1_input":    "52000\n",
		"class/drm/card1/device/hwmon/hwmon3/power1_average": "123456789\n",
		"class/drm/card1/device/hwmon/hwmon3/power1_cap":     "203000000\n",
		"class/drm/card1-DP-1/status":                        "connected\n", // a connector, not a card
		"class/drm/renderD128/dev":                           "226:128\n",
		// An NVIDIA card beside it is not ours to read here.
		"class/drm/card0/device/vendor":           "0x10de\n",
		"class/drm/card0/device/gpu_busy_percent": "99\n",
		// An APU on a newer kernel: product_name, power1_input, no VRAM counters.
		"class/drm/card2/device/vendor":                    "0x1002\n",
		"class/drm/card2/device/product_name":              "AMD Radeon 780M\n",
		"class/drm/card2/device/gpu_busy_percent":          "3\n",
		"class/drm/card2/device/hwmon/hwmon5/temp1_input":  "41500\n",
		"class/drm/card2/device/hwmon/hwmon5/power1_input": "9000000\n",
		"class/drm/card10/device/vendor":                   "0x1002\n",
		"class/drm/card10/device/gpu_busy_percent":         "not a number\n",
	})
	src, err := newAMDSource(root)
	if err != nil {
		t.Fatal(err)
	}
	gpus, err := src.Sample(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []GPU{
		{Index: 0, Name: "AMD GPU 0x73bf", UtilPercent: 37, MemUsed: 2 << 30, MemTotal: 17163091968,
			TempC: 52, PowerW: 123.456789, PowerLimitW: 203, Valid: FieldAll},
		{Index: 1, Name: "AMD Radeon 780M", UtilPercent: 3, TempC: 41.5, PowerW: 9,
			Valid: FieldUtil | FieldTemp | FieldPower},
		{Index: 2, Name: "AMD GPU"}, // card10 sorts after card2
	}
	if !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got  %+v\nwant %+v", gpus, want)
	}

	if _, err := newAMDSource(t.TempDir()); !errors.Is(err, errNoGPU) {
		t.Fatalf("no drm folder: %v, want errNoGPU", err)
	}
	writeFiles(t, root, map[string]string{"only-nvidia/class/drm/card0/device/vendor": "0x10de\n"})
	if _, err := newAMDSource(filepath.Join(root, "only-nvidia")); !errors.Is(err, errNoGPU) {
		t.Fatalf("only NVIDIA cards: %v, want errNoGPU", err)
	}
}

// ioregSample is synthesized from the known format of
// `ioreg -r -d 1 -w 0 -c IOAccelerator` on Apple Silicon (no recording of a
// real Mac exists in this project): an M2 Pro's AGXAccelerator node, and a
// second node that only has "Alloc system memory".
const ioregSample = `+-o AGXAcceleratorG14X  <class AGXAcceleratorG14X, id 0x100000a2f, registered, matched, active, busy 0 (0 ms), retain 94>
    {
      "IOClass" = "AGXAcceleratorG14X"
      "CFBundleIdentifier" = "com.apple.AGXG14X"
      "IOProviderClass" = "AppleARMIODevice"
      "model" = "Apple M2 Pro"
      "gpu-core-count" = 19
      "IOReportLegends" = ({"IOReportGroupName"="GPU Stats","IOReportChannels"=((5360174913601699840,3,"GPU Performance States")),"IOReportChannelInfo"={"IOReportChannelUnit"=0}})
      "AGXParameterBufferMaxSize" = 1073741824
      "PerformanceStatistics" = {"In use system memory (driver)"=0,"Alloc system memory"=2906062848,"Tiler Utilization %"=9,"recoveryCount"=0,"lastRecoveryTime"=0,"Renderer Utilization %"=8,"TiledSceneBytes"=1179648,"Device Utilization %"=11,"SplitSceneCount"=0,"Allocated PB Size"=203423744,"In use system memory"=578584576}
      "IOMatchedAtBoot" = Yes
      "IOPowerManagement" = {"CapabilityFlags"=2,"MaxPowerState"=2,"CurrentPowerState"=2}
      "IODeviceMemory" = <00000000>
    }
  
+-o AGXAcceleratorG13G  <class AGXAcceleratorG13G, id 0x1000008b3, registered, matched, active, busy 0 (0 ms), retain 40>
    {
      "IOClass" = "AGXAcceleratorG13G"
      "PerformanceStatistics" = {"Alloc system memory"=1048576,"Device Utilization %"=0,"Renderer Utilization %"=0}
    }
`

func TestParseIOReg(t *testing.T) {
	gpus, err := ParseIOReg([]byte(ioregSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []GPU{
		{Index: 0, Name: "Apple M2 Pro", UtilPercent: 11, MemUsed: 578584576, Valid: FieldUtil | FieldMemUsed},
		{Index: 1, Name: "AGXAcceleratorG13G", UtilPercent: 0, MemUsed: 1048576, Valid: FieldUtil | FieldMemUsed},
	}
	if !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got  %+v\nwant %+v", gpus, want)
	}
	if gpus, err := ParseIOReg(nil); err != nil || len(gpus) != 0 {
		t.Fatalf("empty output: %v, %v", gpus, err)
	}
	noStats := "+-o IntelAccelerator  <class IntelAccelerator>\n    {\n      \"IOClass\" = \"IntelAccelerator\"\n    }\n"
	gpus, err = ParseIOReg([]byte(noStats))
	if err != nil || len(gpus) != 1 || gpus[0].Valid != 0 || gpus[0].Name != "IntelAccelerator" {
		t.Fatalf("node without statistics: %+v, %v", gpus, err)
	}
}
