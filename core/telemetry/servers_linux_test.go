package telemetry

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestServerPIDsRealSockets listens on a real port in this process and
// starts a child: both count as the server; a process that does not
// descend from it does not.
func TestServerPIDsRealSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	me, kid := os.Getpid(), child.Process.Pid
	got := ServerPIDs([]int{port}, []int{me, kid, 1})
	if !got[me] || !got[kid] || got[1] {
		t.Errorf("ServerPIDs = %v; want %d and %d, not 1", got, me, kid)
	}
	if got := ServerPIDs([]int{port + 1}, []int{me, kid}); got[me] || got[kid] {
		t.Errorf("another port: %v", got)
	}
}
