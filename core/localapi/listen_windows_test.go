//go:build windows

package localapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var pipeSeq atomic.Int64

// testAddress is a fresh pipe name no agent listens on.
func testAddress(t *testing.T) string {
	return fmt.Sprintf(`\\.\pipe\usepod-agent-test-%d-%d-%d`, os.Getpid(), time.Now().UnixNano(), pipeSeq.Add(1))
}

func TestUserAddressNamesTheUser(t *testing.T) {
	sid, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	if got := UserAddress(`C:\ignored`); got != `\\.\pipe\usepod-agent-`+sid || !strings.HasPrefix(sid, "S-1-") {
		t.Fatalf("UserAddress = %q (sid %q)", got, sid)
	}
	if ServiceAddress() != `\\.\pipe\usepod-agent-service` {
		t.Fatalf("ServiceAddress = %q", ServiceAddress())
	}
}

func TestPipeSDDLAdmitsOnlyTheUser(t *testing.T) {
	sid, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	sddl, err := pipeSDDL("")
	if err != nil {
		t.Fatal(err)
	}
	if want := "D:P(A;;GA;;;SY)(A;;GA;;;" + sid + ")"; sddl != want {
		t.Fatalf("SDDL = %q, want %q", sddl, want)
	}
	withGroup, err := pipeSDDL("Administrators")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(withGroup, sddl) || !strings.HasSuffix(withGroup, "(A;;GA;;;S-1-5-32-544)") {
		t.Fatalf("SDDL with Administrators = %q", withGroup)
	}
	if _, err := pipeSDDL("no-such-group-usepod"); err == nil {
		t.Fatal("an unknown group gave a descriptor")
	}
}

func TestPipeListenDialAndAlreadyRunning(t *testing.T) {
	addr := testAddress(t)
	if _, err := Dial(context.Background(), addr); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial with no agent = %v, want ErrNotRunning", err)
	}
	s := serveAt(t, addr, ServerOptions{Engine: newFakeEngine(), PID: 9})
	st, err := s.client.Status(ctxT(t))
	if err != nil || st.PID != 9 {
		t.Fatalf("status over the pipe = %+v, %v", st, err)
	}
	if _, err := Listen(addr, ListenOptions{}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Listen = %v, want ErrAlreadyRunning", err)
	}
	s.stop(t)
	ln, err := Listen(addr, ListenOptions{})
	if err != nil {
		t.Fatalf("Listen after the agent stopped: %v", err)
	}
	ln.Close()
}
