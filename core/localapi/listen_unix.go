//go:build unix

package localapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// UserAddress is the socket of the agent a user runs, in its data directory.
func UserAddress(dataDir string) string { return filepath.Join(dataDir, "agent.sock") }

// ServiceAddress is the socket of the system service.
func ServiceAddress() string {
	if runtime.GOOS == "darwin" {
		return "/var/run/usepod-agent/agent.sock"
	}
	return "/run/usepod-agent/agent.sock"
}

// ListenOptions widen who may connect.
type ListenOptions struct {
	// Group, when set, also admits the members of this OS group: the
	// socket is made 0660 and given to the group (the system service uses
	// "usepod-agent").
	Group string
}

// maxSocketPath is the longest socket path the OS takes (sun_path less
// its terminating zero).
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103 // macOS and the BSDs
}

// Listen creates the socket at addr, readable only by this user (and the
// group's members with o.Group). Another agent answering there gives an
// error wrapping ErrAlreadyRunning; a socket nobody answers on is left
// from a crash and is replaced. Closing the listener removes the socket.
func Listen(addr string, o ListenOptions) (net.Listener, error) {
	if len(addr) > maxSocketPath() {
		return nil, fmt.Errorf("the socket path %s is %d bytes long; this system allows at most %d: choose a shorter data directory", addr, len(addr), maxSocketPath())
	}
	gid := -1
	if o.Group != "" {
		g, err := user.LookupGroup(o.Group)
		if err != nil {
			return nil, fmt.Errorf("look up group %s: %w", o.Group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("group %s has gid %q: %w", o.Group, g.Gid, err)
		}
	}
	dir := filepath.Dir(addr)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		mode := os.FileMode(0o700)
		if gid >= 0 {
			mode = 0o750 // the group must reach the socket
		}
		if err := os.MkdirAll(dir, mode); err != nil {
			return nil, fmt.Errorf("create the socket directory: %w", err)
		}
		if gid >= 0 {
			if err := os.Chown(dir, -1, gid); err != nil {
				return nil, fmt.Errorf("give the socket directory to group %s: %w", o.Group, err)
			}
		}
	}
	if err := removeStale(addr); err != nil {
		return nil, err
	}

	// The socket is created under a temporary name, given its mode and
	// group, then linked to addr: nobody can connect before the mode is
	// set, and link fails if another agent got there first.
	tmp := filepath.Join(dir, fmt.Sprintf(".agent.%d.sock", os.Getpid()))
	if len(tmp) > maxSocketPath() {
		tmp = addr + "~"
		if len(tmp) > maxSocketPath() {
			return nil, fmt.Errorf("the socket path %s is too long for this system: choose a shorter data directory", addr)
		}
	}
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	ln.SetUnlinkOnClose(false)
	defer os.Remove(tmp)
	fail := func(err error) (net.Listener, error) { ln.Close(); return nil, err }
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Chown(tmp, -1, gid); err != nil {
			return fail(fmt.Errorf("give the socket to group %s: %w", o.Group, err))
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(fmt.Errorf("set the socket's mode: %w", err))
	}
	if err := os.Link(tmp, addr); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(fmt.Errorf("%w: another agent created %s just now", ErrAlreadyRunning, addr))
		}
		return fail(fmt.Errorf("create %s: %w", addr, err))
	}
	return &unixListener{UnixListener: ln, path: addr, gid: gid}, nil
}

// removeStale removes a socket left at addr by an agent that is gone, and
// fails with ErrAlreadyRunning when one answers there.
func removeStale(addr string) error {
	fi, err := os.Lstat(addr)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", addr, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; move it away and start again", addr)
	}
	c, err := net.DialTimeout("unix", addr, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w (it answers at %s)", ErrAlreadyRunning, addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// We may not even ask (EACCES): not ours to remove.
		return fmt.Errorf("%s exists and cannot be checked (%v); if no agent is running, remove it", addr, err)
	}
	if err := os.Remove(addr); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the stale socket %s: %w", addr, err)
	}
	return nil
}

// unixListener removes its socket on Close and tags accepted connections
// with the group the peer check admits.
type unixListener struct {
	*net.UnixListener
	path string
	gid  int // admitted group, -1 for none
	once sync.Once
}

func (l *unixListener) Accept() (net.Conn, error) {
	c, err := l.UnixListener.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return &acceptedConn{UnixConn: c, gid: l.gid}, nil
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// acceptedConn is a connection with the group its listener admits.
type acceptedConn struct {
	*net.UnixConn
	gid int
}

// Dial connects to the agent at addr. Nothing there gives an error
// wrapping ErrNotRunning; a socket of another user, one wrapping
// ErrForbidden.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%w (nothing answers at %s)", ErrNotRunning, addr)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w (%s)", ErrForbidden, addr)
	}
	return nil, fmt.Errorf("connect to the agent: %w", err)
}

// checkPeerConn decides whether the process at the other end of c may use
// the API: the same user as this process, root, or a member of the
// listener's group.
func checkPeerConn(c net.Conn) (peerVerdict, error) {
	ac, ok := c.(*acceptedConn)
	if !ok {
		return peerVerdict{}, fmt.Errorf("a %T is not a local socket", c)
	}
	p, err := readPeer(ac.UnixConn)
	if err != nil {
		return peerVerdict{}, err
	}
	v := peerVerdict{uid: p.uid, pid: p.pid}
	switch {
	case p.uid == os.Getuid(), p.uid == 0:
		v.admitted = true
	case ac.gid >= 0:
		gids, err := p.groups()
		if err != nil {
			return v, err
		}
		for _, g := range gids {
			if g == ac.gid {
				v.admitted = true
			}
		}
	}
	return v, nil
}

// peer is the process at the other end of a socket.
type peer struct {
	uid, pid int
	groups   func() ([]int, error) // its primary and supplementary groups
}
