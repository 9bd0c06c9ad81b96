package coordinator

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
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

// sendTogether releases 256 goroutines at once, each sending one chunk,
// on one P, and returns how many socket writes carried them.
func sendTogether(t *testing.T, tune func(*Session)) (writes int64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	tune(s)
	p, _ := coord.Next(ctx)
	go s.Run(ctx, recordingHandler{})

	start := make(chan struct{})
	var ready, wg sync.WaitGroup
	for j := range togetherJobs {
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
	writes = writeSyscalls(t) - w0
	s.Close()
	if n := len(p.Frames()); n != togetherJobs {
		t.Fatalf("the coordinator got %d frames, want %d", n, togetherJobs)
	}
	return writes
}

const togetherJobs = 256

// TestChunksReadyTogetherLeaveInOneWrite: when the chunks of many jobs
// arrive together (the poller wakes their goroutines in one go), a sender
// yields before it writes, the others queue behind it, and the batch
// leaves in a few socket writes instead of one per chunk. On one P nothing
// runs in parallel, so without the yield every sender would find the
// token free and write its own frame: 256 writes. (The yields may take
// long here, the race detector slows every sender: the limit on a yield is
// lifted, TestSlowYieldsStop tests it.)
func TestChunksReadyTogetherLeaveInOneWrite(t *testing.T) {
	writes := sendTogether(t, func(s *Session) { s.maxYield = time.Hour })
	t.Logf("%d chunks ready together left in %d write system calls", togetherJobs, writes)
	if writes > togetherJobs/16 {
		t.Fatalf("%d chunks ready together took %d write system calls, want at most %d", togetherJobs, writes, togetherJobs/16)
	}
}

// TestSlowYieldsStop: a yield that takes longer than maxYield stops the
// senders yielding for a while, so frames are not held behind a long queue
// of other work: here every yield is "slow", and after the first one (which
// gathers what the scheduler runs before it comes back, about 60 senders)
// each sender writes its own frame.
func TestSlowYieldsStop(t *testing.T) {
	writes := sendTogether(t, func(s *Session) { s.maxYield = time.Nanosecond })
	t.Logf("%d chunks, yields limited: %d write system calls", togetherJobs, writes)
	if writes < togetherJobs/2 {
		t.Fatalf("%d chunks took %d write system calls with every yield too slow, want one each after the first yield (at least %d)", togetherJobs, writes, togetherJobs/2)
	}
}
