// Package replay serves the real inference-server recordings of
// testdata/ (a byte-exact copy of shared/fixtures/real) over real HTTP, so
// tests of the backend adapters and of the job relay run against what
// llama-server and Ollama actually sent.
//
// It is a test helper: only _test.go files should import it.
package replay

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/textproto"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

//go:embed testdata
var fixtures embed.FS

// Recording is one parsed fixture file.
//
// The file format (testdata/README.md):
//
//	METHOD /path
//	<request body on one line, only when there is one>
//	---
//	<raw response bytes: with curl -i the status line and CRLF headers first>
type Recording struct {
	Name        string // e.g. "llama.cpp/health.txt"; "synthesized: ..." for made-up ones
	Method      string // "GET", "POST"
	Path        string // "/v1/chat/completions"
	RequestBody []byte // nil when the request had none

	// Status is the recorded status, 200 when the file has no status line.
	Status int
	// Header holds the recorded response headers, as recorded (including
	// Content-Length and Transfer-Encoding, which the server does not
	// replay). When the file has no status line it holds only a
	// Content-Type guessed from the body: text/event-stream when the body
	// starts with "data:" or "event:", else application/json.
	Header http.Header
	// Body is the response body, byte for byte.
	Body []byte
}

// Route is the "METHOD /path" key a recording answers.
func (r Recording) Route() string { return r.Method + " " + r.Path }

// IsSSE reports whether the body is a server-sent-event stream.
func (r Recording) IsSSE() bool {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
		return true
	}
	return looksLikeSSE(r.Body)
}

func looksLikeSSE(body []byte) bool {
	return bytes.HasPrefix(body, []byte("data:")) || bytes.HasPrefix(body, []byte("event:"))
}

// Names lists every recording, e.g. "llama.cpp/health.txt", sorted.
func Names() []string {
	var names []string
	err := fs.WalkDir(fixtures, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".txt") && strings.Count(p, "/") == 2 {
			names = append(names, strings.TrimPrefix(p, "testdata/"))
		}
		return nil
	})
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	sort.Strings(names)
	return names
}

// Raw returns the bytes of a fixture file as recorded. name is as in Parse.
func Raw(name string) ([]byte, error) {
	return fixtures.ReadFile(path.Join("testdata", normalize(name)))
}

func normalize(name string) string {
	if !strings.HasSuffix(name, ".txt") {
		name += ".txt"
	}
	return name
}

// Parse reads and parses one recording. name is relative to testdata/, with
// or without ".txt": "llama.cpp/health.txt" or "ollama/api_show".
func Parse(name string) (Recording, error) {
	raw, err := Raw(name)
	if err != nil {
		return Recording{}, fmt.Errorf("read recording %s: %w", name, err)
	}
	rec, err := parse(raw)
	if err != nil {
		return Recording{}, fmt.Errorf("parse recording %s: %w", name, err)
	}
	rec.Name = normalize(name)
	return rec, nil
}

// MustParse is Parse that fails the test on error.
func MustParse(tb testing.TB, name string) Recording {
	tb.Helper()
	rec, err := Parse(name)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return rec
}

func parse(raw []byte) (Recording, error) {
	var rec Recording
	reqLine, rest, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return rec, fmt.Errorf("no request line")
	}
	method, p, ok := strings.Cut(string(reqLine), " ")
	if !ok || method == "" || !strings.HasPrefix(p, "/") {
		return rec, fmt.Errorf("bad request line %q", reqLine)
	}
	rec.Method, rec.Path = method, p

	if !bytes.HasPrefix(rest, []byte("---\n")) {
		body, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return rec, fmt.Errorf("no --- separator")
		}
		rec.RequestBody, rest = body, after
	}
	resp, ok := bytes.CutPrefix(rest, []byte("---\n"))
	if !ok {
		return rec, fmt.Errorf("no --- separator")
	}

	if !bytes.HasPrefix(resp, []byte("HTTP/")) {
		rec.Status = http.StatusOK
		rec.Body = resp
		ct := "application/json"
		if looksLikeSSE(resp) {
			ct = "text/event-stream"
		}
		rec.Header = http.Header{"Content-Type": {ct}}
		return rec, nil
	}

	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok {
		return rec, fmt.Errorf("no end of headers")
	}
	statusLine, headers, _ := bytes.Cut(head, []byte("\r\n"))
	fields := strings.Fields(string(statusLine))
	if len(fields) < 2 {
		return rec, fmt.Errorf("bad status line %q", statusLine)
	}
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		return rec, fmt.Errorf("bad status line %q", statusLine)
	}
	rec.Status = status
	block := slices.Concat(headers, []byte("\r\n\r\n")) // never append into the body's array
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(block)))
	mh, err := tr.ReadMIMEHeader()
	if err != nil {
		return rec, fmt.Errorf("headers: %w", err)
	}
	rec.Header = http.Header(mh)
	rec.Body = body
	return rec, nil
}
