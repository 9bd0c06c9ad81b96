//go:build unix

package ledger

import (
	"os/exec"
	"syscall"
)

// setNobody makes cmd run as user and group 65534 (nobody).
func setNobody(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}
