package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// nobody is the user the child runs as; nogroup its group's id.
const nobody, nogroup = 65534, 65534

// childBinary copies the test binary where another user may run it.
func childBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root to start a client as another user (CI runs it as root): run `go test` as root")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "child.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runChild asks addr for the status as uid nobody with gid and groups.
func runChild(t *testing.T, bin, addr string, gid uint32, groups []uint32) (childResult, int) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{childAddrEnv + "=" + addr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: gid, Groups: groups}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, errb.String())
	}
	var r childResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("child output %q: %v\n%s", out.String(), err, errb.String())
	}
	return r, cmd.Process.Pid
}

// logRecords collects a server's log records.
type logRecords struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecords) lines(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ln := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(ln, sub) {
			out = append(out, ln)
		}
	}
	return out
}

func TestAnotherUserIsRefused(t *testing.T) {
	bin := childBinary(t)
	logs := &logRecords{}
	s := serve(t, ServerOptions{Engine: newFakeEngine(), Log: slog.New(slog.NewTextHandler(io.Writer(logs), nil))})

	// (a) The socket is 0600 in a 0700 directory: the OS refuses nobody.
	r, _ := runChild(t, bin, s.addr, nogroup, nil)
	if !r.Forbidden || !r.NoAnswer || r.PID != 0 {
		t.Fatalf("as nobody through a 0600 socket: %+v, want refused by the OS", r)
	}
	if got := logs.lines("refused"); len(got) != 0 {
		t.Fatalf("the server saw a connection the OS should have refused: %q", got)
	}

	// (b) Opened up, the connection gets through, and the peer check
	// answers 403.
	for _, p := range []string{filepath.Dir(s.addr), s.addr} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	r, pid := runChild(t, bin, s.addr, nogroup, nil)
	if r.Status != 403 || r.Code != CodeForbidden || !r.Forbidden || r.Err != "this agent belongs to another user" || r.PID != 0 {
		t.Fatalf("as nobody through an open socket: %+v, want 403 forbidden", r)
	}
	got := logs.lines("refused a local connection from another user")
	if len(got) != 1 || !strings.Contains(got[0], "uid=65534") || !strings.Contains(got[0], fmt.Sprintf("pid=%d", pid)) {
		t.Fatalf("refusal log lines = %q, want one with uid 65534 and pid %d", got, pid)
	}

	// Root and the owner are still served.
	if _, err := s.client.Status(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestGroupMembersAreAdmitted(t *testing.T) {
	bin := childBinary(t)
	parent := shortDir(t)
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := UserAddress(filepath.Join(parent, "run"))
	g, err := user.LookupGroupId(strconv.Itoa(nogroup)) // "nogroup" on Debian, "nobody" elsewhere
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(addr, ListenOptions{Group: g.Name})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(addr): 0o750, addr: 0o660} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want || fi.Sys().(*syscall.Stat_t).Gid != nogroup {
			t.Fatalf("%s: mode %v gid %d, want %v and group nogroup", p, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid, want)
		}
	}
	srv := NewServer(ServerOptions{Engine: newFakeEngine(), PID: 77})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// The group's primary members and supplementary members get in.
	if r, _ := runChild(t, bin, addr, nogroup, nil); r.PID != 77 {
		t.Fatalf("member by primary group: %+v", r)
	}
	if r, _ := runChild(t, bin, addr, 12345, []uint32{nogroup}); r.PID != 77 {
		t.Fatalf("member by supplementary group: %+v", r)
	}
	// Others: the OS refuses them; opened up, the peer check does.
	if r, _ := runChild(t, bin, addr, 12345, nil); !r.NoAnswer || !r.Forbidden {
		t.Fatalf("non-member through a 0660 socket: %+v", r)
	}
	for _, p := range []string{filepath.Dir(addr), addr} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := runChild(t, bin, addr, 12345, nil); r.Status != 403 || r.Code != CodeForbidden {
		t.Fatalf("non-member through an open socket: %+v, want 403", r)
	}
}
