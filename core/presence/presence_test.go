package presence

import (
	"testing"
	"time"
)

func TestParseHIDIdle(t *testing.T) {
	out := []byte(`    | |   "HIDIdleTime" = 5123456789
    | |   "HIDParameters" = {}`)
	if d, ok := parseHIDIdle(out); !ok || d != 5123456789*time.Nanosecond {
		t.Errorf("got %v %v", d, ok)
	}
	if _, ok := parseHIDIdle([]byte("nothing")); ok {
		t.Error("read an idle time from nothing")
	}
}

func TestParsePmset(t *testing.T) {
	for in, want := range map[string][2]bool{
		"Now drawing from 'Battery Power'\n -InternalBattery-0 (id=1)\t85%; discharging": {true, true},
		"Now drawing from 'AC Power'\n -InternalBattery-0 (id=1)\t100%; charged":         {false, true},
		"": {false, false},
	} {
		b, ok := parsePmset([]byte(in))
		if [2]bool{b, ok} != want {
			t.Errorf("%q: %v %v, want %v", in, b, ok, want)
		}
	}
}
