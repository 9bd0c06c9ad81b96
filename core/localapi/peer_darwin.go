package localapi

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// readPeer reads the peer's credentials with LOCAL_PEERCRED and its pid
// with LOCAL_PEERPID.
func readPeer(c *net.UnixConn) (peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var x *unix.Xucred
	var pid int
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		x, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if cerr == nil {
			pid, _ = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		}
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", cerr)
	}
	gids := make([]int, 0, x.Ngroups)
	for _, g := range x.Groups[:min(int(x.Ngroups), len(x.Groups))] {
		gids = append(gids, int(g))
	}
	return peer{uid: int(x.Uid), pid: pid, groups: func() ([]int, error) { return gids, nil }}, nil
}
