package coordinator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// TestFramesOfEachJobStayInOrderUnder256Streams: 256 jobs send chunks of
// random sizes at once; the writer batches frames of many jobs into one
// socket write. The coordinator must get every job's bytes unchanged and
// in order.
func TestFramesOfEachJobStayInOrderUnder256Streams(t *testing.T) {
	coord, url := startCoord(t, localcoord.Options{})
	ctx := t.Context()
	s, err := Connect(ctx, opts(url, newTestKey()))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := coord.Next(ctx)
	go s.Run(ctx, recordingHandler{})

	const jobs, chunks = 256, 40
	want := make([][]byte, jobs)
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(j), 7))
			enc := NewChunkEncoder(fmt.Sprintf("job-%d", j))
			buf := make([]byte, 600)
			for c := range chunks {
				n := 1 + rng.IntN(len(buf))
				for i := range n {
					buf[i] = byte(j + c + i)
				}
				want[j] = append(want[j], buf[:n]...)
				// The relay reuses its read buffer: so does this test.
				if err := s.SendChunk(ctx, enc, buf[:n]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	got := map[string][]byte{}
	for _, f := range p.Frames() {
		if f.Type != "job_chunk" {
			t.Fatalf("unexpected frame %s", f.Raw)
		}
		data, err := localcoord.ChunkPayload(f)
		if err != nil {
			t.Fatalf("frame %s: %v", f.Raw, err)
		}
		got[f.JobID] = append(got[f.JobID], data...)
	}
	for j := range jobs {
		if id := fmt.Sprintf("job-%d", j); !bytes.Equal(got[id], want[j]) {
			t.Fatalf("%s: coordinator got %d bytes, want %d (or the order differs)", id, len(got[id]), len(want[j]))
		}
	}
}

// stalledCoordinator completes the handshake and then reads nothing until
// read is closed, like a coordinator that cannot keep up.
func stalledCoordinator(t *testing.T, read chan struct{}) (url string, received func() int64) {
	var mu sync.Mutex
	var n int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		ctx := r.Context()
		c.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_challenge","nonce":"`+base64.StdEncoding.EncodeToString([]byte("nonce"))+`"}`))
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		b, _ := json.Marshal(map[string]string{"type": "auth_ok", "provider_id": "p1"})
		c.Write(ctx, websocket.MessageText, b)
		select {
		case <-read:
		case <-ctx.Done():
			return
		}
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			n += int64(len(data))
			mu.Unlock()
		}
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http"), func() int64 { mu.Lock(); defer mu.Unlock(); return n }
}

// TestSendBlocksWhenTheCoordinatorDoesNotRead: the outbox is bounded. With
// a coordinator that reads nothing, senders stop getting frames accepted
// (once the socket buffers and the outbox are full) instead of growing
// memory; a sender's context ends its wait for room; and once the
// coordinator reads again, the senders go on and every accepted frame
// arrives.
func TestSendBlocksWhenTheCoordinatorDoesNotRead(t *testing.T) {
	read := make(chan struct{})
	url, received := stalledCoordinator(t, read)
	o := opts(url, newTestKey())
	o.WriteTimeout = time.Minute // the stall must not end the session
	o.PingInterval = time.Hour   // nor the silence check
	ctx := t.Context()
	s, err := Connect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx, recordingHandler{})

	const frame, total = 64 << 10, 256 << 20 // 256 MiB: far more than any socket buffer
	payload := bytes.Repeat([]byte("x"), frame)
	var accepted atomic.Int64
	var stop atomic.Bool
	var senders sync.WaitGroup
	for range 4 { // like jobs: one may be writing while the others queue
		senders.Go(func() {
			for !stop.Load() && accepted.Load() < total {
				if err := s.Send(ctx, payload); err != nil {
					t.Error(err)
					return
				}
				accepted.Add(frame)
			}
		})
	}
	// Wait until the senders make no progress for a second.
	last := int64(-1)
	for accepted.Load() != last && accepted.Load() < total {
		last = accepted.Load()
		time.Sleep(time.Second)
	}
	if accepted.Load() >= total {
		t.Fatalf("Send accepted all %d MiB while the coordinator read nothing: no back-pressure", total>>20)
	}
	t.Logf("senders blocked after %d MiB accepted (outbox %d MiB, the rest in socket buffers)", accepted.Load()>>20, maxQueued>>20)
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = s.Send(sctx, payload)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send into a full outbox with a 200 ms context = %v, want the context's error", err)
	}

	stop.Store(true)
	close(read)
	senders.Wait() // the blocked senders go on once the coordinator reads
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for received() < accepted.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := received(); got != accepted.Load() {
		t.Fatalf("coordinator received %d bytes, %d were accepted", got, accepted.Load())
	}
}
