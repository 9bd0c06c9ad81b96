// Package plistcheck parses XML property lists strictly, in the manner of
// `plutil -lint`, so tests on any OS can check the plists the agent writes:
// the LaunchAgent, the launchd daemon and the app bundle's Info.plist.
package plistcheck

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Parse reads one XML plist. Values come back as map[string]any (dict),
// []any (array), string, bool, int64 (integer), float64 (real), []byte
// (data) and time.Time (date).
func Parse(r io.Reader) (any, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	start, err := nextStart(d)
	if err != nil {
		return nil, err
	}
	if start.Name.Local != "plist" {
		return nil, fmt.Errorf("plist: root element is <%s>, want <plist>", start.Name.Local)
	}
	v, err := value(d, nil)
	if err != nil {
		return nil, err
	}
	if err := expectEnd(d, "plist"); err != nil {
		return nil, err
	}
	// Nothing but comments and space may follow.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return v, nil
		}
		if err != nil {
			return nil, fmt.Errorf("plist: %w", err)
		}
		if !blank(tok) {
			return nil, fmt.Errorf("plist: content after </plist>")
		}
	}
}

// Dict parses a plist whose root is a dict.
func Dict(r io.Reader) (map[string]any, error) {
	v, err := Parse(r)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("plist: root is %T, want a dict", v)
	}
	return m, nil
}

// value reads the next value element; start is it when already read.
func value(d *xml.Decoder, start *xml.StartElement) (any, error) {
	if start == nil {
		s, err := nextStart(d)
		if err != nil {
			return nil, err
		}
		start = &s
	}
	name := start.Name.Local
	switch name {
	case "dict":
		return dict(d)
	case "array":
		var out []any
		for {
			s, end, err := nextStartOrEnd(d, "array")
			if err != nil {
				return nil, err
			}
			if end {
				return out, nil
			}
			v, err := value(d, &s)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	case "true", "false":
		if err := expectEnd(d, name); err != nil {
			return nil, err
		}
		return name == "true", nil
	}
	text, err := charData(d, name)
	if err != nil {
		return nil, err
	}
	switch name {
	case "string":
		return text, nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("plist: <integer>%s</integer>: %w", text, err)
		}
		return n, nil
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("plist: <real>%s</real>: %w", text, err)
		}
		return f, nil
	case "data":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, fmt.Errorf("plist: <data>: %w", err)
		}
		return b, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("plist: <date>: %w", err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("plist: unknown element <%s>", name)
}

func dict(d *xml.Decoder) (map[string]any, error) {
	out := map[string]any{}
	for {
		s, end, err := nextStartOrEnd(d, "dict")
		if err != nil {
			return nil, err
		}
		if end {
			return out, nil
		}
		if s.Name.Local != "key" {
			return nil, fmt.Errorf("plist: <%s> in a dict where a <key> belongs", s.Name.Local)
		}
		key, err := charData(d, "key")
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("plist: key %q twice in one dict", key)
		}
		v, err := value(d, nil)
		if err != nil {
			return nil, fmt.Errorf("plist: key %q: %w", key, err)
		}
		out[key] = v
	}
}

// charData reads the text of a leaf element up to its end tag.
func charData(d *xml.Decoder, name string) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("plist: in <%s>: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("plist: <%s> inside <%s>", t.Name.Local, name)
		}
	}
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, fmt.Errorf("plist: %w", err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
		if !blank(tok) {
			return xml.StartElement{}, fmt.Errorf("plist: unexpected %T where an element belongs", tok)
		}
	}
}

func nextStartOrEnd(d *xml.Decoder, parent string) (xml.StartElement, bool, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, false, fmt.Errorf("plist: in <%s>: %w", parent, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return xml.StartElement{}, true, nil
		}
		if !blank(tok) {
			return xml.StartElement{}, false, fmt.Errorf("plist: text in <%s>", parent)
		}
	}
}

func expectEnd(d *xml.Decoder, name string) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("plist: want </%s>: %w", name, err)
		}
		if _, ok := tok.(xml.EndElement); ok {
			return nil // the decoder has checked it matches
		}
		if !blank(tok) {
			return fmt.Errorf("plist: want </%s>, got %T", name, tok)
		}
	}
}

// blank reports whether a token may sit between elements: space, comments,
// the XML declaration and the DOCTYPE.
func blank(tok xml.Token) bool {
	switch t := tok.(type) {
	case xml.CharData:
		return strings.TrimSpace(string(t)) == ""
	case xml.Comment, xml.ProcInst, xml.Directive:
		return true
	}
	return false
}

// ErrMissing is wrapped by Require when a key is absent.
var ErrMissing = errors.New("missing key")

// Require checks that m holds each key with a value of the given example's
// type (for instance "" for a string, true for a bool, []any{} for an array).
func Require(m map[string]any, want map[string]any) error {
	var errs []error
	for k, example := range want {
		v, ok := m[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%q: %w", k, ErrMissing))
			continue
		}
		if fmt.Sprintf("%T", v) != fmt.Sprintf("%T", example) {
			errs = append(errs, fmt.Errorf("%q is %T, want %T", k, v, example))
		}
	}
	return errors.Join(errs...)
}
