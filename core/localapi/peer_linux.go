package localapi

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readPeer reads the peer's credentials with SO_PEERCRED.
func readPeer(c *net.UnixConn) (peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", cerr)
	}
	pid, gid := int(cred.Pid), int(cred.Gid)
	return peer{uid: int(cred.Uid), pid: pid, groups: func() ([]int, error) {
		extra, err := procGroups(pid)
		return append([]int{gid}, extra...), err
	}}, nil
}

// procGroups reads a process's supplementary groups from /proc.
func procGroups(pid int) ([]int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("peer groups: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gids []int
		for _, w := range strings.Fields(rest) {
			g, err := strconv.Atoi(w)
			if err != nil {
				return nil, fmt.Errorf("peer groups: %q in /proc/%d/status", w, pid)
			}
			gids = append(gids, g)
		}
		return gids, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("peer groups: %w", err)
	}
	return nil, nil
}
