package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows/svc"
)

// stopWait is how long the service manager is told a stop may take: run has
// this long to return after its context is cancelled.
const stopWait = 30 * time.Second

// RunningAsWindowsService reports whether the service manager started this
// process. Check it first thing in main: a service has no console and must
// hand control to RunWindowsService.
func RunningAsWindowsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// RunWindowsService runs run as the Windows service and blocks until it
// ends. The context handed to run is cancelled when the service manager asks
// the service to stop (or the machine shuts down); run should then return
// within stopWait. An error from run ends the service with a failure exit
// code, so the recovery actions Install set restart it; that error is also
// returned here.
func RunWindowsService(run func(ctx context.Context) error) error {
	h := &handler{run: run}
	if err := svc.Run(WinName, h); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return h.err
}

type handler struct {
	run func(context.Context) error
	err error // run's error; written by Execute before it returns
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	// Cancelling ctx is how a stop request reaches run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}

	for {
		select {
		case err := <-done:
			return h.finish(err, false)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopWait / time.Millisecond)}
				cancel()
				return h.finish(<-done, true)
			}
		}
	}
}

// finish maps run's result to the service's exit code: 0, or 1 as a
// service-specific failure.
func (h *handler) finish(err error, stopping bool) (bool, uint32) {
	if err == nil || (stopping && errors.Is(err, context.Canceled)) {
		return false, 0
	}
	h.err = err
	return true, 1
}
