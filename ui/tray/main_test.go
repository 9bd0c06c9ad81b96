package tray

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
)

// childEnv makes the test binary run the tray as a child process instead of
// the tests: systray is a process-wide singleton that runs once, so each
// scenario gets a process of its own, which the test drives like a desktop
// (over D-Bus) and like the app (over the child's stdin and stdout).
const childEnv = "USEPOD_TRAY_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild runs the tray on the main goroutine with a scripted engine.
//
// It reads commands, one a line, from stdin: "snap <state>" publishes a
// snapshot ("waiting", "paused"), "fail <words>" stops the engine with that
// error, "drained" lets a pending Quit return. It writes one line to stdout
// for each call the tray makes: "start", "pause", "dashboard", "settings",
// "showlog", "quit", and "returned <err>" when Run has returned (then
// "again <err>" for a second Run).
func runChild() int {
	out := make(chan string, 64)
	printed := make(chan struct{})
	go func() {
		for line := range out {
			fmt.Println(line)
		}
		close(printed)
	}()
	say := func(s string) { out <- s }

	eng := &scriptEngine{snaps: make(chan engine.Snapshot), say: say}
	failed := make(chan error, 1)
	drained := make(chan struct{})
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			cmd, arg, _ := strings.Cut(in.Text(), " ")
			switch cmd {
			case "snap":
				eng.publish(arg)
			case "fail":
				failed <- errors.New(arg)
			case "drained":
				close(drained)
			}
		}
	}()

	// SIGTERM cancels the context, as the app's root context does.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := Run(ctx, Options{
		Engine: eng,
		Actions: Actions{
			OpenDashboard: func() { say("dashboard") },
			OpenSettings:  func() { say("settings") },
			ShowLog:       func() { say("showlog") },
			Quit: func() {
				say("quit")
				<-drained // the app drains its jobs here
			},
		},
		Failed: failed,
	})
	say(fmt.Sprintf("returned %v", err))
	say(fmt.Sprintf("again %v", Run(ctx, Options{Engine: eng})))
	close(out)
	<-printed // the parent reads up to "again"
	return 0
}

// scriptEngine is the child's Engine: snapshots come from the test over
// stdin, and calls go back to it over stdout. Its Watch channel is
// unbuffered, so when publish returns the tray has taken the snapshot, and
// it applies snapshots in order: a change seen on the bus proves the ones
// before it were applied.
type scriptEngine struct {
	snaps chan engine.Snapshot
	say   func(string)
}

func (e *scriptEngine) Watch(ctx context.Context) <-chan engine.Snapshot {
	ch := make(chan engine.Snapshot)
	go func() {
		defer close(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-e.snaps:
				select {
				case ch <- s:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}

func (e *scriptEngine) publish(state string) {
	s := engine.Snapshot{Earnings: ledger.Totals{TodayMicro: 48_213}}
	switch state {
	case "paused":
		s.State = engine.StatePaused
	case "earning":
		s.State = engine.StateEarning
	default:
		s.State = engine.StateWaiting
	}
	e.snaps <- s
}

func (e *scriptEngine) Start() { e.say("start") }
func (e *scriptEngine) Pause() { e.say("pause") }
