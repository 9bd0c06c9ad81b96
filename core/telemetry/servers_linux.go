package telemetry

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// serverPIDs walks each candidate's ancestors in proc and checks whether
// one holds a socket listening on a port.
func serverPIDs(proc string, ports []int, pids []int) map[int]bool {
	out := map[int]bool{}
	inodes := listeningInodes(proc, ports)
	if len(inodes) == 0 {
		return out
	}
	listens := map[int]bool{} // pid -> holds one of inodes, memoised
	for _, pid := range pids {
		for p, depth := pid, 0; p > 1 && depth < 32; depth++ {
			held, seen := listens[p]
			if !seen {
				held = holdsSocket(proc, p, inodes)
				listens[p] = held
			}
			if held {
				out[pid] = true
				break
			}
			p = parentPID(proc, p)
		}
	}
	return out
}

// listeningInodes reads /proc/net/tcp and tcp6 for sockets listening on
// ports (state 0A), by inode.
func listeningInodes(proc string, ports []int) map[string]bool {
	want := map[string]bool{}
	for _, p := range ports {
		want[fmt.Sprintf("%04X", p)] = true
	}
	inodes := map[string]bool{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		b, err := os.ReadFile(filepath.Join(proc, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // the header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" {
				continue
			}
			_, port, ok := strings.Cut(fs[1], ":")
			if ok && want[port] {
				inodes[fs[9]] = true
			}
		}
	}
	return inodes
}

// holdsSocket reports whether pid has an open fd on one of the inodes.
func holdsSocket(proc string, pid int, inodes map[string]bool) bool {
	dir := filepath.Join(proc, strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false // gone, or another user's process
	}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
			return true
		}
	}
	return false
}

// parentPID reads the ppid from /proc/pid/stat (after the command name,
// which may hold spaces and parentheses); 0 when unknown.
func parentPID(proc string, pid int) int {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(string(b[i+1:]))
	if len(fs) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fs[1])
	return ppid
}
