package plistcheck

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- a comment -->
<plist version="1.0">
<dict>
	<key>Label</key><string>a &amp; b</string>
	<key>Args</key><array><string>x</string><string></string></array>
	<key>On</key><true/>
	<key>Off</key><false/>
	<key>N</key><integer>-3</integer>
	<key>Sub</key><dict><key>K</key><real>1.5</real></dict>
	<key>Data</key><data>aGk=</data>
</dict>
</plist>
`
	got, err := Dict(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Label": "a & b",
		"Args":  []any{"x", ""},
		"On":    true,
		"Off":   false,
		"N":     int64(-3),
		"Sub":   map[string]any{"K": 1.5},
		"Data":  []byte("hi"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	if err := Require(got, map[string]any{"Label": "", "On": true, "Args": []any{}}); err != nil {
		t.Error(err)
	}
	if err := Require(got, map[string]any{"Label": true, "Nope": ""}); err == nil {
		t.Error("Require accepted a wrong type and a missing key")
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unclosed":      `<plist><dict><key>a</key><string>b</string></plist>`,
		"value w/o key": `<plist><dict><string>b</string></dict></plist>`,
		"key w/o value": `<plist><dict><key>a</key></dict></plist>`,
		"duplicate key": `<plist><dict><key>a</key><true/><key>a</key><true/></dict></plist>`,
		"bad integer":   `<plist><integer>x</integer></plist>`,
		"unknown":       `<plist><thing/></plist>`,
		"not plist":     `<dict></dict>`,
		"bare &":        `<plist><string>a & b</string></plist>`,
		"two roots":     `<plist><true/></plist><plist/>`,
		"text in dict":  `<plist><dict>hello</dict></plist>`,
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
