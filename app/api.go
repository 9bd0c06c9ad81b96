package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"usepod.ai/agent/core/localapi"
)

// The local API is how every other process reaches a running agent: the
// tray, the dashboard, `status`, `pause` and `resume`, and a second launch
// of the app. The always-on desktop process, the headless agent and the
// system service all serve it (core/agent).

// apiFlags are the run flags that choose where the local API listens.
type apiFlags struct {
	addr  string // --api: socket or pipe; default the user's, in the data folder
	group string // --api-group: also admit this OS group (the system service)
}

// apiAddress is the address this command talks to: --api when given, else
// the user's own agent, else the system service when its socket answers
// (localapi.Find).
func (c *cli) apiAddress(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return "", err
	}
	return localapi.Find("", localapi.UserAddress(dataDir), c.dataDir != ""), nil
}

// answers reports whether an agent listens at addr.
func answers(addr string) bool { return localapi.Answers(addr) }

// askRunningAgent asks the agent at addr to open its dashboard, retrying
// for a few seconds: an agent that has just claimed its address may still be
// opening its key store before it serves.
func askRunningAgent(addr string, settings bool, log *slog.Logger) error {
	deadline := time.Now().Add(10 * time.Second)
	client := localapi.NewClient(addr)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := client.OpenDashboard(ctx, settings)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		log.Debug("the running agent does not answer yet", "err", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// errAnotherAgent explains ErrAlreadyRunning to a user.
func errAnotherAgent(addr string) error {
	//lint:ignore ST1005 it starts with the product's name; the terminal prints it as a sentence
	return fmt.Errorf("Use Pod Agent is already running for this user (%s); see it with: usepod-agent status", addr)
}

// isAlreadyRunning reports whether err says an agent holds the address.
func isAlreadyRunning(err error) bool { return errors.Is(err, localapi.ErrAlreadyRunning) }
