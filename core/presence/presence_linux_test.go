package presence

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSysfsOnBattery(t *testing.T) {
	supply := func(t *testing.T, dir, name string, files map[string]string) {
		for f, v := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, f), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		supplies map[string]map[string]string
		battery  bool
	}{
		{"desktop", nil, false},
		{"laptop unplugged", map[string]map[string]string{
			"AC":   {"type": "Mains", "online": "0"},
			"BAT0": {"type": "Battery", "status": "Discharging", "scope": "System"},
		}, true},
		{"laptop plugged", map[string]map[string]string{
			"AC":   {"type": "Mains", "online": "1"},
			"BAT0": {"type": "Battery", "status": "Charging"},
		}, false},
		{"wireless mouse only", map[string]map[string]string{
			"hid-mouse": {"type": "Battery", "status": "Discharging", "scope": "Device"},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, f := range tc.supplies {
				supply(t, dir, n, f)
			}
			b, ok := sysfsOnBattery(dir)
			if !ok || b != tc.battery {
				t.Errorf("got %v %v, want %v", b, ok, tc.battery)
			}
		})
	}
	if _, ok := sysfsOnBattery(filepath.Join(t.TempDir(), "none")); ok {
		t.Error("a missing folder reads as known")
	}
}
