//go:build unix

package localapi

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testAddress is a fresh address no agent listens on.
func testAddress(t *testing.T) string { return UserAddress(shortDir(t)) }

func TestDialAPlainFileIsNotRunning(t *testing.T) {
	addr := testAddress(t)
	if err := os.WriteFile(addr, nil, 0o600); err != nil { // nothing can answer there
		t.Fatal(err)
	}
	if _, err := NewClient(addr).Status(ctxT(t)); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("status through a plain file: %v, want not running", err)
	}
}

func TestListenReplacesAStaleSocket(t *testing.T) {
	addr := UserAddress(shortDir(t))
	// A crashed agent leaves its socket file behind, with nobody on it.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if fi, err := os.Lstat(addr); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	s := serveAt(t, addr, ServerOptions{Engine: newFakeEngine()})
	if _, err := s.client.Status(ctxT(t)); err != nil {
		t.Fatalf("status after replacing the stale socket: %v", err)
	}
}

func TestListenRefusesWhileAnAgentAnswers(t *testing.T) {
	s := serve(t, ServerOptions{Engine: newFakeEngine()})
	_, err := Listen(s.addr, ListenOptions{})
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Listen = %v, want ErrAlreadyRunning", err)
	}
	// The first agent is untouched.
	if _, err := s.client.Status(ctxT(t)); err != nil {
		t.Fatalf("the running agent after a second Listen: %v", err)
	}
}

func TestListenRefusesAFileThatIsNotASocket(t *testing.T) {
	addr := UserAddress(shortDir(t))
	if err := os.WriteFile(addr, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(addr, ListenOptions{}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a plain file = %v", err)
	}
	if b, _ := os.ReadFile(addr); string(b) != "keep me" {
		t.Fatal("Listen removed a file that was not a socket")
	}
}

func TestListenModesAndCleanup(t *testing.T) {
	dir := filepath.Join(shortDir(t), "data")
	addr := UserAddress(dir)
	ln, err := Listen(addr, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(dir)
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode = %v, %v; want 0700", di.Mode(), err)
	}
	fi, err := os.Lstat(addr)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, %v; want a 0600 socket", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("the socket dir holds %v; the temporary name should be gone", ents)
	}
	ln.Close()
	if _, err := os.Lstat(addr); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
}

func TestListenTooLongAPath(t *testing.T) {
	addr := UserAddress(filepath.Join(shortDir(t), strings.Repeat("d", 120)))
	_, err := Listen(addr, ListenOptions{})
	if err == nil || !strings.Contains(err.Error(), "bytes long") || !strings.Contains(err.Error(), "shorter data directory") {
		t.Fatalf("Listen on a %d-byte path = %v", len(addr), err)
	}
}
