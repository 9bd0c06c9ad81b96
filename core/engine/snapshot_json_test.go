package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fillNonZero sets every field reachable from v to a non-zero value: a
// field that JSON does not carry then shows up as a difference after a
// round trip.
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

func TestSnapshotJSONCarriesEveryField(t *testing.T) {
	var in Snapshot
	fillNonZero(t, reflect.ValueOf(&in).Elem(), "Snapshot")
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Snapshot
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("a field is lost in JSON:\n in  %+v\n out %+v\n json %s", in, out, b)
	}
	for _, key := range []string{`"state":"connecting"`, `"model_id":`, `"jobs_in_flight":`, `"total_micro":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestStateText(t *testing.T) {
	for s := StatePaused; s <= maxState; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v: round trip gave %v, %v", s, back, err)
		}
		if p, ok := ParseState(s.String()); !ok || p != s {
			t.Fatalf("ParseState(%q) = %v, %v", s.String(), p, ok)
		}
	}
	if b, err := StateWaiting.MarshalText(); string(b) != "waiting for jobs" || err != nil {
		t.Fatalf("waiting = %q, %v", b, err)
	}
	if _, err := State(99).MarshalText(); err == nil {
		t.Fatal("an unknown state marshalled")
	}
	var s State
	if err := s.UnmarshalText([]byte("napping")); err == nil {
		t.Fatal(`"napping" parsed as a state`)
	}
}
