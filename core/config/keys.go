package config

import (
	"strconv"
	"strings"
)

// A keyPath names one value in a config: table and key names, and indexes
// into arrays. Its String form is the one FieldError.Key uses:
// limits.max_concurrent, backends[1].url, pricing.models."llama3:8b".input_per_1m.
type keyPath []keySeg

type keySeg struct {
	name  string
	index int // an index into an array, or -1 for a name
}

// key returns a new path: p followed by name.
func (p keyPath) key(name string) keyPath {
	return append(p[:len(p):len(p)], keySeg{name: name, index: -1})
}

// at returns a new path: p followed by an array index.
func (p keyPath) at(i int) keyPath {
	return append(p[:len(p):len(p)], keySeg{index: i})
}

// last is the final name in the path, "" when there is none.
func (p keyPath) last() string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i].index < 0 {
			return p[i].name
		}
	}
	return ""
}

func (p keyPath) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.index >= 0 {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteKey(s.name))
	}
	return b.String()
}

// quoteKey writes a TOML key name bare when it can be, quoted otherwise.
func quoteKey(name string) string {
	if name == "" {
		return `""`
	}
	for _, r := range name {
		if !isBareKeyChar(byte(r)) || r > 0x7f {
			return strconv.Quote(name)
		}
	}
	return name
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyLines maps every key and table header of a TOML document (by its
// keyPath string) to the 1-based line it is written on.
type keyLines map[string]int

// lineOf returns the line of p, or of its nearest ancestor written in the
// document (a missing key is reported at its table's header); 0 when none is.
func (kl keyLines) lineOf(p keyPath) int {
	for i := len(p); i > 0; i-- {
		if line, ok := kl[p[:i].String()]; ok {
			return line
		}
	}
	return 0
}

// indexKeys finds where each key of a TOML document is written. BurntSushi/toml
// keeps key positions to itself, so this is a small scanner of its own. It is
// run only on documents that parsed, and it is forgiving: what it does not
// understand it skips to the end of the line.
func indexKeys(src string) keyLines {
	s := &keyScanner{src: src, line: 1, lines: keyLines{}, arrays: map[string]int{}}
	var table keyPath
	for {
		s.skipSpace(true)
		if s.eof() {
			return s.lines
		}
		line := s.line
		switch {
		case strings.HasPrefix(s.src[s.pos:], "[["):
			s.pos += 2
			names := s.keyNames()
			s.skipLine()
			if len(names) == 0 {
				continue
			}
			arr := s.resolve(names[:len(names)-1]).key(names[len(names)-1])
			s.record(arr, line)
			n := s.arrays[arr.String()]
			s.arrays[arr.String()] = n + 1
			table = arr.at(n)
			s.record(table, line)
		case s.peek() == '[':
			s.pos++
			names := s.keyNames()
			s.skipLine()
			table = s.resolve(names)
			s.record(table, line)
		default:
			names := s.keyNames()
			if len(names) == 0 {
				s.skipLine()
				continue
			}
			p := table
			for _, n := range names {
				p = p.key(n)
				s.record(p, line)
			}
			s.skipSpace(false)
			if s.peek() == '=' {
				s.pos++
				s.value(p)
			}
			s.skipLine()
		}
	}
}

type keyScanner struct {
	src    string
	pos    int
	line   int
	lines  keyLines
	arrays map[string]int // array-of-tables key -> elements seen so far
}

func (s *keyScanner) eof() bool { return s.pos >= len(s.src) }

func (s *keyScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

// next moves one byte on, counting lines.
func (s *keyScanner) next() {
	if s.peek() == '\n' {
		s.line++
	}
	s.pos++
}

// record notes the line of p unless it was seen before.
func (s *keyScanner) record(p keyPath, line int) {
	if _, ok := s.lines[p.String()]; !ok {
		s.lines[p.String()] = line
	}
}

// resolve turns a table header's names into a path, stepping into the latest
// element of each array of tables on the way.
func (s *keyScanner) resolve(names []string) keyPath {
	var p keyPath
	for _, n := range names {
		p = p.key(n)
		if count, ok := s.arrays[p.String()]; ok {
			p = p.at(count - 1)
		}
	}
	return p
}

// skipSpace skips blanks; with newlines also line ends and comments.
func (s *keyScanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t':
			s.next()
		case newlines && (c == '\n' || c == '\r'):
			s.next()
		case newlines && c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.next()
			}
		default:
			return
		}
	}
}

// skipLine moves past the end of the current line.
func (s *keyScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
	s.next()
}

// keyNames reads a dotted key: bare, "basic" and 'literal' parts.
func (s *keyScanner) keyNames() []string {
	var names []string
	for {
		s.skipSpace(false)
		var name string
		switch c := s.peek(); {
		case c == '"':
			name = s.basicString()
		case c == '\'':
			name = s.literalString()
		case isBareKeyChar(c):
			start := s.pos
			for !s.eof() && isBareKeyChar(s.peek()) {
				s.next()
			}
			name = s.src[start:s.pos]
		default:
			return names
		}
		names = append(names, name)
		s.skipSpace(false)
		if s.peek() != '.' {
			return names
		}
		s.next()
	}
}

// basicString reads a one-line "string" and returns its value.
func (s *keyScanner) basicString() string {
	start := s.pos
	s.next()
	for !s.eof() && s.peek() != '"' && s.peek() != '\n' {
		if s.peek() == '\\' {
			s.next()
		}
		s.next()
	}
	s.next()
	raw := s.src[start:min(s.pos, len(s.src))]
	if v, err := strconv.Unquote(raw); err == nil {
		return v
	}
	return strings.Trim(raw, `"`)
}

// literalString reads a one-line 'string' and returns its value.
func (s *keyScanner) literalString() string {
	s.next()
	start := s.pos
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.next()
	}
	v := s.src[start:s.pos]
	s.next()
	return v
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays under p.
func (s *keyScanner) value(p keyPath) {
	s.skipSpace(false)
	rest := s.src[s.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`), strings.HasPrefix(rest, `'''`):
		s.multilineString(rest[:3])
	case s.peek() == '"':
		s.basicString()
	case s.peek() == '\'':
		s.literalString()
	case s.peek() == '[':
		s.next()
		for i := 0; ; i++ {
			s.skipSpace(true)
			if s.eof() || s.peek() == ']' {
				s.next()
				return
			}
			start := s.pos
			s.record(p.at(i), s.line)
			s.value(p.at(i))
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			} else if s.pos == start {
				s.next() // never stall on something unexpected
			}
		}
	case s.peek() == '{':
		s.next()
		for {
			s.skipSpace(true)
			if s.eof() || s.peek() == '}' {
				s.next()
				return
			}
			start := s.pos
			q := p
			for _, n := range s.keyNames() {
				q = q.key(n)
				s.record(q, s.line)
			}
			s.skipSpace(false)
			if s.peek() == '=' {
				s.next()
				s.value(q)
			}
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			} else if s.pos == start {
				s.next()
			}
		}
	default: // number, bool, date: up to a delimiter
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.peek())) {
			s.next()
		}
	}
}

// multilineString skips a multi-line string; delim is its three opening quotes.
func (s *keyScanner) multilineString(delim string) {
	s.pos += 3
	for !s.eof() {
		if delim == `"""` && s.peek() == '\\' {
			s.next()
			s.next()
			continue
		}
		if strings.HasPrefix(s.src[s.pos:], delim) {
			s.pos += 3
			// Up to two more quotes may close the string ("""a"""" is a").
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.pos++
			}
			return
		}
		s.next()
	}
}
