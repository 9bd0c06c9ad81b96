package localapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/engine"
)

func TestWatchFirstFullThenNewest(t *testing.T) {
	fe := newFakeEngine()
	s := serve(t, ServerOptions{Engine: fe})
	ctx, cancel := context.WithCancel(ctxT(t))
	ch := s.client.Watch(ctx)
	first := <-ch
	if !reflect.DeepEqual(first, fe.Snapshot()) {
		t.Fatalf("first value = %+v, want the full state %+v", first, fe.Snapshot())
	}
	// A burst while the reader looks away: it gets the newest, not a backlog.
	for i := 1; i <= 200; i++ {
		fe.publish(func(s *engine.Snapshot) { s.JobsServed = int64(i); s.State = engine.StateEarning })
	}
	time.Sleep(300 * time.Millisecond) // let the stream deliver what it will
	var got []int64
	for s := range ch {
		got = append(got, s.JobsServed)
		if s.JobsServed == 200 {
			break
		}
	}
	if got[len(got)-1] != 200 || len(got) == 200 {
		t.Fatalf("read %d snapshots ending in %d; want the newest (200) without the whole backlog", len(got), got[len(got)-1])
	}
	cancel()
	for range ch {
	}
	if err := s.client.Err(); err != nil {
		t.Fatalf("Err after cancel = %v, want nil", err)
	}
	eventually(t, "the server to let go of the engine's watch", func() bool { return fe.watcherCount() == 0 })
}

func TestWatchEndsWhenTheAgentStops(t *testing.T) {
	fe := newFakeEngine()
	s := serve(t, ServerOptions{Engine: fe})
	ch := s.client.Watch(ctxT(t))
	<-ch
	s.stop(t)
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch still open after the agent stopped")
	}
	if s.client.Err() == nil {
		t.Fatal("Err() = nil after the agent went away")
	}
}

// TestStalledWatcherIsDropped: a client that stops reading is dropped
// after the write deadline, while the engine keeps publishing and another
// client keeps getting every newest snapshot.
func TestStalledWatcherIsDropped(t *testing.T) {
	fe := newFakeEngine()
	// Big snapshots fill the socket buffers in a few events; they are
	// published once both watchers are in, so the stalled one is not
	// dropped before the test looks.
	var big []engine.ModelStatus
	for i := range 2000 {
		big = append(big, engine.ModelStatus{ID: fmt.Sprintf("model-%04d-%s", i, strings.Repeat("x", 100))})
	}
	s := serve(t, ServerOptions{Engine: fe}, func(s *Server) { s.writeTimeout = 200 * time.Millisecond })

	stalled, err := Dial(ctxT(t), s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := fmt.Fprintf(stalled, "GET /v1/watch HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(stalled)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %v %v", resp, err)
	}
	// From here on the stalled client reads nothing.

	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	live := s.client.Watch(ctx)
	<-live
	eventually(t, "both watchers", func() bool { return fe.watcherCount() == 2 })

	n := int64(0)
	deadline := time.Now().Add(10 * time.Second)
	for fe.watcherCount() == 2 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled watcher was never dropped")
		}
		n++
		begin := time.Now()
		fe.publish(func(s *engine.Snapshot) { s.JobsServed, s.Models = n, big })
		if d := time.Since(begin); d > 100*time.Millisecond {
			t.Fatalf("publishing took %v: a watcher blocks the engine", d)
		}
		// The live client keeps up.
		for got := int64(0); got != n; {
			select {
			case sn := <-live:
				got = sn.JobsServed
			case <-time.After(5 * time.Second):
				t.Fatalf("the live watcher stopped getting snapshots at %d", n)
			}
		}
	}
	// The stalled connection was closed by the server: reading what the
	// buffers hold ends in an error, not a hang.
	stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(resp.Body)
	for {
		var sn engine.Snapshot
		if err := dec.Decode(&sn); err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the stalled connection is still open")
			}
			break
		}
	}
}
