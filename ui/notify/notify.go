// Package notify decides which desktop notifications a change of the
// engine's state deserves and sends them through the desktop's own service.
// Only the always-on process (engine and tray) runs it; the dashboard, which
// comes and goes, never notifies, so nothing is said twice. It imports no GUI
// toolkit.
package notify

import (
	"context"
	"log/slog"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
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
			out = append(out, notification{Title: "Back online", Body: "Connected to " + present.HostOf(next.Coordinator) + " again."})
		}
		memo.offlineSince, memo.offlineNotified = time.Time{}, false
	}
	if !memo.offlineSince.IsZero() && !memo.offlineNotified && now.Sub(memo.offlineSince) > offlineNoticeAfter {
		memo.offlineNotified = true
		body := "Cannot reach " + present.HostOf(next.Coordinator) + "; retrying."
		if p := next.Problem; !p.IsZero() {
			body = p.Summary + ". " + p.Action
		} else if next.LastError != "" {
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
		name := present.BackendName(b.Kind) + " at " + present.HostOf(b.URL)
		if b.Healthy {
			out = append(out, notification{Title: present.BackendName(b.Kind) + " is back", Body: name + " answers again; its models are offered."})
		} else {
			body := name + " stopped answering."
			if b.Error != "" {
				body = name + ": " + b.Error
			}
			out = append(out, notification{Title: present.BackendName(b.Kind) + " went down", Body: body})
		}
	}

	if prev.Earnings.Jobs == 0 && next.Earnings.Jobs > 0 {
		out = append(out, notification{
			Title: "First job served",
			Body:  "You earned " + present.FormatUSDC(next.Earnings.TotalMicro) + ". Thank you for sharing your GPU.",
		})
	}
	return out, memo
}

// Watch is the notifier's loop: it reads snaps, sends what
// notificationsFor decides through send, and returns when ctx is cancelled or
// snaps is closed. During an outage it sets one timer for the moment the
// "offline for more than 2 minutes" notice is due, so the notice fires
// without waiting for a snapshot; otherwise it sleeps on the channel alone.
// send is called on Watch's goroutine, one notification at a time; pass
// Send for the desktop's. Its errors are logged, and the notification is
// not retried: a desktop without a notification service loses nothing
// else. log may be nil; Watch adds component=notify (the caller does not).
func Watch(ctx context.Context, snaps <-chan engine.Snapshot, send func(title, body string) error, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "notify")

	var prev engine.Snapshot
	var memo notifyMemo
	var due *time.Timer // the outage notice's timer, while one is pending
	defer func() {
		if due != nil {
			due.Stop()
		}
	}()
	for {
		var dueC <-chan time.Time
		if due != nil {
			dueC = due.C
		}
		next := prev
		select {
		case <-ctx.Done():
			return
		case s, ok := <-snaps:
			if !ok {
				return
			}
			next = s
		case <-dueC:
			due = nil // the same snapshot again: the passing of time
		}
		var notes []notification
		notes, memo = notificationsFor(prev, next, time.Now(), memo)
		for _, n := range notes {
			log.Info("notify", "title", n.Title)
			if err := send(n.Title, n.Body); err != nil {
				log.Warn("notification not shown", "title", n.Title, "err", err)
			}
		}
		prev = next

		if due != nil {
			due.Stop()
			due = nil
		}
		if !memo.offlineSince.IsZero() && !memo.offlineNotified {
			// notificationsFor wants strictly more than offlineNoticeAfter.
			wait := time.Until(memo.offlineSince.Add(offlineNoticeAfter)) + time.Millisecond
			due = time.NewTimer(max(wait, 0))
		}
	}
}
