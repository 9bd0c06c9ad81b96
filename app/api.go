package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"usepod.ai/agent/core/localapi"
)

// The local API is how every other process reaches a running agent: the
// dashboard, `status`, `pause` and `resume`, and a second launch of the app.
// The always-on desktop process, the headless agent and the system service
// all serve it.

// apiFlags are the run flags that choose where the local API listens.
type apiFlags struct {
	addr  string // --api: socket or pipe; default the user's, in the data folder
	group string // --api-group: also admit this OS group (the system service)
}

// listenAPI claims the agent's local API address. Claiming it first makes
// the process the one agent of this user (or service): a second one gets
// localapi.ErrAlreadyRunning and never opens the key or a session.
func listenAPI(addr, group string) (net.Listener, error) {
	return localapi.Listen(addr, localapi.ListenOptions{Group: group})
}

// newAPIServer builds the local API of a running agent; o gives the
// desktop's extras (open dashboard, quit).
func (a *agent) newAPIServer(o localapi.ServerOptions) *localapi.Server {
	o.Engine = a.engine
	o.Ledger = a.ledger
	o.Hardware = a.hardware
	o.Diagnose = a.writeBundle
	o.Jobs = a.ledger
	o.SelfTest = a.selftest
	if o.Import == nil {
		o.Import = a.importFromCLI
	}
	o.Log = a.log.With("component", "localapi")
	o.PID = os.Getpid()
	return localapi.NewServer(o)
}

// serveAPI serves the local API until ctx ends. It blocks.
func serveAPI(ctx context.Context, ln net.Listener, srv *localapi.Server, log *slog.Logger) {
	if err := srv.Serve(ctx, ln); err != nil {
		log.Error("the local API stopped", "err", err)
	}
}

// apiAddress is the address this command talks to: --api when given, else
// the user's own agent, else the system service when its socket answers.
func (c *cli) apiAddress(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return "", err
	}
	user := localapi.UserAddress(dataDir)
	if c.dataDir != "" || answers(user) {
		return user, nil
	}
	if svc := serviceAddress(); answers(svc) {
		return svc, nil
	}
	return user, nil
}

// serviceAPIEnv names where the system service's local API is, for a
// service installed with its own --api (and for tests).
const serviceAPIEnv = "USEPOD_SERVICE_API"

// serviceAddress is where the system service's local API is expected.
func serviceAddress() string {
	if addr := os.Getenv(serviceAPIEnv); addr != "" {
		return addr
	}
	return localapi.ServiceAddress()
}

// answers reports whether an agent listens at addr.
func answers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := localapi.Dial(ctx, addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

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
	return fmt.Errorf("Use Pod Agent is already running for this user (%s); see it with: usepod-agent status", addr)
}

// isAlreadyRunning reports whether err says an agent holds the address.
func isAlreadyRunning(err error) bool { return errors.Is(err, localapi.ErrAlreadyRunning) }
