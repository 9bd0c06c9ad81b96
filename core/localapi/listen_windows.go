//go:build windows

package localapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// UserAddress is the named pipe of the agent the current user runs; the
// data directory plays no part on Windows.
func UserAddress(dataDir string) string {
	sid, err := currentUserSID()
	if err != nil {
		// Without a SID the pipe still works; its ACL (Listen) fails loudly.
		return `\\.\pipe\usepod-agent-user`
	}
	return `\\.\pipe\usepod-agent-` + sid
}

// ServiceAddress is the named pipe of the system service.
func ServiceAddress() string { return `\\.\pipe\usepod-agent-service` }

// ListenOptions widen who may connect.
type ListenOptions struct {
	// Group, when set, also admits the members of this local group.
	Group string
}

func currentUserSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read the current user: %w", err)
	}
	return u.User.Sid.String(), nil
}

// pipeSDDL is the pipe's security descriptor: full access for SYSTEM,
// the current user and, when group is set, that group; nobody else.
func pipeSDDL(group string) (string, error) {
	sid, err := currentUserSID()
	if err != nil {
		return "", err
	}
	sddl := "D:P(A;;GA;;;SY)(A;;GA;;;" + sid + ")"
	if group != "" {
		gsid, _, _, err := windows.LookupSID("", group)
		if err != nil {
			return "", fmt.Errorf("look up group %s: %w", group, err)
		}
		sddl += "(A;;GA;;;" + gsid.String() + ")"
	}
	return sddl, nil
}

// Listen creates the named pipe at addr, open only to the current user
// (and SYSTEM, and o.Group's members). An agent already serving the pipe
// gives an error wrapping ErrAlreadyRunning. The pipe's ACL is the peer
// check on Windows.
func Listen(addr string, o ListenOptions) (net.Listener, error) {
	sddl, err := pipeSDDL(o.Group)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	c, err := winio.DialPipeContext(ctx, addr)
	cancel()
	if err == nil {
		c.Close()
		return nil, fmt.Errorf("%w (it answers at %s)", ErrAlreadyRunning, addr)
	}
	ln, err := winio.ListenPipe(addr, &winio.PipeConfig{SecurityDescriptor: sddl})
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
		// FILE_FLAG_FIRST_PIPE_INSTANCE: the pipe exists already.
		return nil, fmt.Errorf("%w (%s exists)", ErrAlreadyRunning, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Dial connects to the agent at addr. No pipe there gives an error
// wrapping ErrNotRunning; a pipe whose ACL refuses us, ErrForbidden.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, addr)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return nil, fmt.Errorf("%w (nothing answers at %s)", ErrNotRunning, addr)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return nil, fmt.Errorf("%w (%s)", ErrForbidden, addr)
	}
	return nil, fmt.Errorf("connect to the agent: %w", err)
}

// checkPeerConn admits every connection: the pipe's ACL let it in.
func checkPeerConn(net.Conn) (peerVerdict, error) {
	return peerVerdict{admitted: true, uid: -1, pid: -1}, nil
}
