package coordinator

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"usepod.ai/agent/core/localcoord"
)

// writeSyscalls is how many write system calls this process has made
// (syscw of /proc/self/io), whichever goroutine made them.
func writeSyscalls(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// TestChunksReadyTogetherLeaveInOneWrite: when the chunks of many jobs
// arrive together (the poller wakes their goroutines in one go), the
// first sender yields before it writes, the others queue behind it, and
// the batch leaves in a few socket writes instead of one per chunk. On
// one P nothing runs in parallel, so without the yield every sender would
// find the token free and write its own frame: 256 writes.
func TestChunksReadyTogetherLeaveInOneWrite(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	go s.Run(ctx, recordingHandler{})

	const jobs = 256
	start := make(chan struct{})
	var ready, wg sync.WaitGroup
	for j := range jobs {
		ready.Add(1)
		wg.Go(func() {
			enc := NewChunkEncoder(fmt.Sprintf("job-%d", j))
			ready.Done()
			<-start
			if err := s.SendChunk(ctx, enc, []byte("data: {\"token\":\""+strconv.Itoa(j)+"\"}\n\n")); err != nil {
				t.Error(err)
			}
		})
	}
	ready.Wait()
	w0 := writeSyscalls(t)
	close(start)
	wg.Wait()
	writes := writeSyscalls(t) - w0
	s.Close()
	if n := len(p.Frames()); n != jobs {
		t.Fatalf("the coordinator got %d frames, want %d", n, jobs)
	}
	t.Logf("%d chunks ready together left in %d write system calls", jobs, writes)
	if writes > jobs/16 {
		t.Fatalf("%d chunks ready together took %d write system calls, want at most %d", jobs, writes, jobs/16)
	}
}
