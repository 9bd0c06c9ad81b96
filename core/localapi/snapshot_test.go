package localapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/engine"
)

// -update rewrites the golden files from what the code produces; review the
// diff: a changed line is a change of the wire format.
var update = flag.Bool("update", false, "rewrite testdata/*.json golden files")

// fillNonZero sets every field reachable from v to a non-zero value: a
// field that the wire form does not carry then shows up as a difference
// after a round trip.
func fillNonZero(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1) // 1 is also a valid State
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s is unexported: JSON cannot carry it", path, f.Name)
			}
			fillNonZero(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillNonZero(t, s.Index(i), path+"[]")
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillNonZero(t, k, path+"{key}")
		fillNonZero(t, e, path+"{}")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillNonZero(t, p.Elem(), path)
		v.Set(p)
	default:
		t.Fatalf("%s: kind %v: teach fillNonZero (and the JSON form) about it", path, v.Kind())
	}
}

// Every field of the engine's snapshot reaches the wire and comes back: a
// field added to engine.Snapshot without a line in WireSnapshot and Engine
// fails here.
func TestSnapshotWireCarriesEveryField(t *testing.T) {
	var in engine.Snapshot
	fillNonZero(t, reflect.ValueOf(&in).Elem(), "Snapshot")
	b, err := json.Marshal(WireSnapshot(in))
	if err != nil {
		t.Fatal(err)
	}
	var w Snapshot
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if out := w.Engine(); !reflect.DeepEqual(in, out) {
		t.Fatalf("a field is lost on the wire:\n in  %+v\n out %+v\n json %s", in, out, b)
	}
	for _, key := range []string{`"state":"connecting"`, `"model_id":`, `"jobs_in_flight":`, `"total_micro":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

// The wire format of GET /v1/status (and, without "pid", of each line of
// GET /v1/watch) is testdata/status_v1.json: the JSON names, their nesting
// and the state as a word. A tray, a dashboard and a service of different
// versions agree on it; this test fails when any of it changes.
func TestStatusWireGolden(t *testing.T) {
	var s engine.Snapshot
	fillNonZero(t, reflect.ValueOf(&s).Elem(), "Snapshot")
	s.State = engine.StateWaiting
	got, err := json.MarshalIndent(Status{Snapshot: WireSnapshot(s), PID: 4321}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "status_v1.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./core/localapi -run Golden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the /v1 status wire format changed; a field may be added (then -update), never renamed or removed:\n got  %s\n want %s", got, want)
	}
	// What an older or newer agent sends in this format reads back whole.
	var back Status
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if back.PID != 4321 || !reflect.DeepEqual(back.Engine(), s) {
		t.Fatalf("the golden status reads back as %+v, want %+v", back.Engine(), s)
	}
}

// A state word this version does not know (a newer agent's) is not taken
// for another state: it reads as connecting and says why.
func TestUnknownStateWord(t *testing.T) {
	s := Snapshot{State: "napping"}.Engine()
	if s.State != engine.StateConnecting || !strings.Contains(s.LastError, "napping") {
		t.Fatalf("unknown state read as %v, %q", s.State, s.LastError)
	}
}
