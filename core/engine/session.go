package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"usepod.ai/agent/core/backoff"
	"usepod.ai/agent/core/coordinator"
)

// sessionLoop keeps one coordinator session up while the user wants to
// earn, with the reconnect backoff of docs/protocol.md section 7. It blocks
// until ctx ends.
func (e *Engine) sessionLoop(ctx context.Context) {
	bo := &backoff.Backoff{Base: backoff.DefaultBase, Max: backoff.DefaultMax, Rand: e.opts.Rand}
	for ctx.Err() == nil {
		e.mu.Lock()
		ready := e.want && e.canEnrollLocked()
		cfg, id := e.cfg, e.id
		e.connecting = ready
		e.mu.Unlock()
		e.publish()
		if !ready {
			select {
			case <-e.kick:
			case <-ctx.Done():
			}
			continue
		}

		sess, err := coordinator.Connect(ctx, coordinator.Options{
			URL:              cfg.Coordinator.URL,
			AllowInsecure:    cfg.Coordinator.AllowInsecure || e.opts.AllowInsecure,
			Identity:         id,
			AgentVersion:     agentVersion(),
			ProviderID:       id.ProviderID,
			EnrollmentCode:   cfg.Coordinator.EnrollmentCode,
			HTTPClient:       e.opts.CoordinatorHTTP,
			HandshakeTimeout: e.opts.HandshakeTimeout,
			PingInterval:     e.opts.PingInterval,
			PongTimeout:      e.opts.PongTimeout,
			Log:              e.opts.Log, // not e.log: the session adds its own component
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.connectFailed(ctx, bo, err)
			continue
		}
		bo.Reset()
		e.serveSession(ctx, sess)
		if ctx.Err() != nil {
			return
		}
		// The session had reached auth_ok: come back after about 1 s, so a
		// coordinator deploy does not push providers into long waits.
		e.waitRetry(ctx, bo.Next())
	}
}

// canEnrollLocked is false when there is no provider id and no code.
func (e *Engine) canEnrollLocked() bool {
	return e.id != nil && (e.id.ProviderID != "" || e.cfg.Coordinator.EnrollmentCode != "")
}

func (e *Engine) connectFailed(ctx context.Context, bo *backoff.Backoff, err error) {
	wait := bo.Next()
	var ae *coordinator.AuthError
	e.mu.Lock()
	if errors.As(err, &ae) {
		e.authReason = ae.Reason
	}
	e.lastErr, e.lastErrAt, e.lastErrV, e.connErr = err.Error(), e.opts.Now(), err, err
	e.mu.Unlock()
	if bo.Failures() >= backoff.LoudAfter {
		e.log.Error("still cannot reach the coordinator; will keep trying", "failures", bo.Failures(), "err", err, "retry_in", wait.Round(time.Millisecond))
	} else {
		e.log.Warn("coordinator connection failed", "err", err, "retry_in", wait.Round(time.Millisecond))
	}
	e.waitRetry(ctx, wait)
}

// waitRetry waits d before the next attempt, showing the retry time. A
// Start, Pause or config change cuts the wait short.
func (e *Engine) waitRetry(ctx context.Context, d time.Duration) {
	e.mu.Lock()
	e.connecting = false
	e.retryAt = e.opts.Now().Add(d)
	e.mu.Unlock()
	e.publish()
	select {
	case <-e.opts.After(d):
	case <-e.kick:
	case <-ctx.Done():
	}
	e.mu.Lock()
	e.retryAt = time.Time{}
	e.mu.Unlock()
}

// serveSession runs one authenticated session until it ends. Jobs still
// running when it ends are aborted: their results can no longer be
// delivered.
func (e *Engine) serveSession(ctx context.Context, sess *coordinator.Session) {
	e.mu.Lock()
	// An auth_ok without provider_id leaves the id as it was: the code is
	// sent again on the next handshake, until an auth_ok carries one.
	if got := sess.ProviderID(); got != "" && e.id.ProviderID != got {
		e.id.ProviderID = got
		e.idUnsaved = true
	}
	e.mu.Unlock()
	e.saveProviderID(ctx)
	e.mu.Lock()
	e.sess = sess
	e.sessions++
	e.connecting = false
	e.authReason = ""
	e.offered, e.offeredSet = "", nil // a new session always gets capabilities
	paused := !e.want                 // Pause came while dialling
	e.mu.Unlock()
	if paused {
		go e.closeWhenDrained(sess)
	}
	e.log.Info("connected to the coordinator", "provider_id", sess.ProviderID())
	e.offerChanged()

	hbDone := make(chan struct{})
	go func() { defer close(hbDone); e.heartbeatLoop(sess) }()
	err := sess.Run(ctx, sessionHandler{e, sess})
	<-hbDone

	e.mu.Lock()
	e.sess = nil
	e.offeredSet = nil
	e.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		e.mu.Lock()
		e.connErr = err
		e.mu.Unlock()
		e.setError(err)
		e.log.Warn("coordinator session ended", "err", err)
	} else {
		e.log.Info("coordinator session closed")
	}
	e.publish()
}

// saveProviderID stores a provider id that is not saved yet with the
// identity. The id is in memory and used from the moment auth_ok brought
// it, so a failed save never makes the agent send its enrollment code
// again; the save is retried on every heartbeat and every handshake until
// it works, and the user is told meanwhile. It blocks on the key store.
func (e *Engine) saveProviderID(ctx context.Context) {
	e.mu.Lock()
	if !e.idUnsaved {
		e.mu.Unlock()
		return
	}
	id := *e.id
	e.mu.Unlock()
	err := e.opts.KeyStore.Save(ctx, &id)
	if err != nil && ctx.Err() != nil {
		return // stopped, not failed: the next handshake tries again
	}
	e.mu.Lock()
	if e.id.ProviderID == id.ProviderID {
		e.idUnsaved = err != nil
	}
	was := e.idSaveErr
	e.idSaveErr = ""
	if err != nil {
		e.idSaveErr = fmt.Sprintf("Could not save this computer's provider id to %s: %v. Will retry.", e.opts.KeyStore.Where(), err)
	}
	problem := e.idSaveErr
	e.mu.Unlock()
	switch {
	case err != nil && problem != was: // once per new reason, not every heartbeat
		e.setError(errors.New(problem))
		e.log.Error("could not store the provider id with the identity; it is kept in memory and the save is retried", "err", err, "key", e.opts.KeyStore.Where())
	case err != nil:
		e.log.Debug("still cannot store the provider id", "err", err)
	case was != "":
		e.log.Info("provider id saved after earlier failures", "provider_id", id.ProviderID)
		e.publish()
	default:
		e.log.Info("enrolled", "provider_id", id.ProviderID)
	}
}

// heartbeatLoop sends a heartbeat every interval, the first one interval
// after auth_ok, until the session ends.
func (e *Engine) heartbeatLoop(sess *coordinator.Session) {
	t := time.NewTicker(e.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-sess.Context().Done():
			return
		case <-t.C:
		}
		e.saveProviderID(sess.Context()) // retries a save that failed
		f := e.jobs.Stats.Figures(e.opts.Now())
		hb := coordinator.Heartbeat{
			Type:            "heartbeat",
			QueueDepth:      e.jobs.InFlight(),
			TokensPerSecP50: f.TokensPerSecP50,
			P50LatencyMs:    f.P50LatencyMs,
			P95LatencyMs:    f.P95LatencyMs,
			ErrorRate60s:    f.ErrorRate60s,
		}
		if !f.LastErrorAt.IsZero() {
			at, code := coordinator.FormatRFC3339(f.LastErrorAt), f.LastErrorCode
			hb.LastErrorAt, hb.LastErrorCode = &at, &code
		}
		if err := sess.SendJSON(sess.Context(), hb); err != nil {
			return
		}
	}
}

// sessionHandler hands one session's jobs to the jobs manager.
type sessionHandler struct {
	e    *Engine
	sess *coordinator.Session
}

func (h sessionHandler) HandleJob(j coordinator.Job) {
	h.e.jobs.Handle(h.sess.Context(), h.sess, j)
}

func (h sessionHandler) HandleCancel(c coordinator.JobCancel) { h.e.jobs.Cancel(c.JobID) }
