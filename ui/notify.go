package ui

import (
	"context"
	"time"

	"usepod.ai/agent/core/engine"
)

// offlineNoticeAfter is how long the agent must have been without a session
// before the user hears about it; short blips are retried silently.
const offlineNoticeAfter = 2 * time.Minute

// notification is one desktop notification.
type notification struct {
	Title string
	Body  string
}

// notifyMemo is what notificationsFor remembers between calls. "Offline for
// more than two minutes" cannot be told from two snapshots alone: the engine
// goes Offline -> Connecting -> Offline on every retry, so the start of the
// outage has to be carried along.
type notifyMemo struct {
	seen            bool      // prev is a real snapshot, not the zero value before the first
	offlineSince    time.Time // start of the current outage; zero while connected
	offlineNotified bool      // the outage notice was sent
}

// notificationsFor decides which notifications a change from prev to next
// (or, with prev == next, just the passing of time) deserves. It is a pure
// function: the notifier goroutine feeds it snapshots and ticks, and the
// table tests feed it sequences.
//
// It notifies when
//   - the coordinator rejects the enrollment code (on entering that state,
//     also when it is the very first state, as the window may be hidden);
//   - there has been no session for more than two minutes, once per outage,
//     and again when the session is back after such a notice;
//   - an inference server stops or starts answering (a server seen for the
//     first time is not news);
//   - the first job ever is served (the ledger's all-time count leaves 0;
//     JobsServed would restart at every launch).
func notificationsFor(prev, next engine.Snapshot, now time.Time, memo notifyMemo) ([]notification, notifyMemo) {
	var out []notification

	first := !memo.seen
	memo.seen = true

	if next.State == engine.StateEnrollmentRejected && (first || prev.State != engine.StateEnrollmentRejected) {
		body := "Paste a new enrollment code in Settings."
		if next.Reason != "" {
			body = "The coordinator said: " + next.Reason + ". " + body
		}
		out = append(out, notification{Title: "Enrollment code rejected", Body: body})
	}

	// An outage spans the retries (Offline and Connecting) and ends when the
	// session is up again or the user or the configuration stops it.
	switch next.State {
	case engine.StateOffline:
		if memo.offlineSince.IsZero() {
			memo.offlineSince = now
		}
	case engine.StateConnecting:
		// still trying: the outage, if any, goes on
	default:
		if memo.offlineNotified && (next.State == engine.StateEarning || next.State == engine.StateWaiting) {
			out = append(out, notification{Title: "Back online", Body: "Connected to " + hostOf(next.Coordinator) + " again."})
		}
		memo.offlineSince, memo.offlineNotified = time.Time{}, false
	}
	if !memo.offlineSince.IsZero() && !memo.offlineNotified && now.Sub(memo.offlineSince) > offlineNoticeAfter {
		memo.offlineNotified = true
		body := "Cannot reach " + hostOf(next.Coordinator) + "; retrying."
		if next.LastError != "" {
			body = next.LastError + "; retrying."
		}
		out = append(out, notification{Title: "Offline for more than 2 minutes", Body: body})
	}

	if first {
		return out, memo // the rest compares with a previous snapshot
	}

	was := make(map[string]bool, len(prev.Backends))
	for _, b := range prev.Backends {
		was[b.Kind+" "+b.URL] = b.Healthy
	}
	for _, b := range next.Backends {
		healthy, seen := was[b.Kind+" "+b.URL]
		if !seen || healthy == b.Healthy {
			continue
		}
		name := backendName(b.Kind) + " at " + hostOf(b.URL)
		if b.Healthy {
			out = append(out, notification{Title: backendName(b.Kind) + " is back", Body: name + " answers again; its models are offered."})
		} else {
			body := name + " stopped answering."
			if b.Error != "" {
				body = name + ": " + b.Error
			}
			out = append(out, notification{Title: backendName(b.Kind) + " went down", Body: body})
		}
	}

	if prev.Earnings.Jobs == 0 && next.Earnings.Jobs > 0 {
		out = append(out, notification{
			Title: "First job served",
			Body:  "You earned " + formatUSDC(next.Earnings.TotalMicro) + ". Thank you for sharing your GPU.",
		})
	}
	return out, memo
}

// watchNotifications is the notifier's goroutine: it reads its own Watch
// channel and ticks every few seconds during an outage so the two-minute
// notice fires without waiting for a snapshot. It touches no widget; sending
// a notification is an app call, not a widget update.
func (u *UI) watchNotifications(ctx context.Context) {
	snaps := u.eng.Watch(ctx)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()

	var prev engine.Snapshot
	var memo notifyMemo
	for {
		next := prev
		select {
		case <-ctx.Done():
			return
		case s, ok := <-snaps:
			if !ok {
				return
			}
			next = s
		case <-tick.C:
			if memo.offlineSince.IsZero() || memo.offlineNotified {
				continue
			}
		}
		var notes []notification
		notes, memo = notificationsFor(prev, next, u.now(), memo)
		for _, n := range notes {
			u.log.Info("notify", "title", n.Title)
			u.notify(n)
		}
		prev = next
	}
}
