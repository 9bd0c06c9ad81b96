//go:build unix

package localapi

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// Given a plain logger, a line the server logs carries one component
// attribute, its own: the server adds component=localapi and its caller
// must not add it too (STYLE: each component adds its own).
func TestLogLineCarriesOneComponent(t *testing.T) {
	var buf bytes.Buffer
	s := NewServer(ServerOptions{Engine: newFakeEngine(), Log: slog.New(slog.NewTextHandler(&buf, nil))})
	c, peer := net.Pipe()
	defer c.Close()
	defer peer.Close()
	s.connContext(t.Context(), c) // not a local socket: refused, and logged
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || strings.Count(lines[0], "component=") != 1 || !strings.Contains(lines[0], "component=localapi") {
		t.Fatalf("logged %q, want one line with component=localapi once", lines)
	}
}
