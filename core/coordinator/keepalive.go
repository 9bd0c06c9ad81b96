package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Defaults of the silence check (Options.PingInterval, PongTimeout). A
// path that dies right after a frame was read is noticed at most
// DefaultPingInterval+DefaultPongTimeout later (40 s); with the 1 s retry
// after a session that reached auth_ok, the agent dials again within 42 s,
// inside the 60 s the agent promises. A healthy idle link costs one ping
// and one pong every 20 s, and is never dropped: the pong is mandatory
// (RFC 6455 section 5.5.2).
const (
	DefaultPingInterval = 20 * time.Second
	DefaultPongTimeout  = 20 * time.Second
)

// SilentError ends a session whose coordinator sent no frame and answered
// no ping for too long: the path stopped carrying bytes without closing.
type SilentError struct{ For time.Duration }

func (e *SilentError) Error() string {
	return fmt.Sprintf("no answer from the coordinator for %s (the network path went silent)", e.For.Round(time.Second))
}

// keepalive tracks when the coordinator was last heard.
type keepalive struct {
	interval, timeout time.Duration
	start             time.Time
	last              *atomic.Int64 // when last heard, as time since start (monotonic)
}

func newKeepalive(interval, timeout time.Duration) keepalive {
	if interval <= 0 {
		interval = DefaultPingInterval
	}
	if timeout <= 0 {
		timeout = DefaultPongTimeout
	}
	return keepalive{interval: interval, timeout: timeout, start: time.Now(), last: new(atomic.Int64)}
}

// heard records a frame or a pong.
func (k keepalive) heard() { k.last.Store(int64(time.Since(k.start))) }

// silence is the time since the coordinator was last heard.
func (k keepalive) silence() time.Duration {
	return time.Since(k.start) - time.Duration(k.last.Load())
}

// watchSilence pings the coordinator whenever nothing was read for the
// ping interval, and ends the session when the pong timeout passes with
// neither a pong nor a frame. It blocks until ctx ends or it ended the
// session. The reader (Run) must be reading: it is what receives pongs.
func (s *Session) watchSilence(ctx context.Context) {
	k := s.keepalive
	t := time.NewTimer(k.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if quiet := k.silence(); quiet < k.interval {
			t.Reset(k.interval - quiet)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, k.timeout)
		err := s.conn.Ping(pctx)
		cancel()
		switch {
		case err == nil:
			k.heard()
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) && k.silence() >= k.timeout:
			err := &SilentError{For: k.silence()}
			s.log.Warn("coordinator connection went silent; reconnecting", "silent_for", err.For.Round(time.Second))
			s.cancel(err)
			s.conn.CloseNow()
			return
		case !errors.Is(err, context.DeadlineExceeded):
			return // the connection is closing; the reader reports how
		}
		t.Reset(k.interval)
	}
}
