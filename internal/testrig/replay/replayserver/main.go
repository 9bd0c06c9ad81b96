// Command replayserver serves the recorded llama.cpp server on a local port
// for `make demo-replay`: a machine without an inference server can still
// watch the agent serve jobs. It prints its URL on the first line.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/replay"
)

// cliTB lets the test-oriented replay constructors run in a command: the
// few testing.TB methods they call are implemented here; any other call
// would panic on the nil interface, which the constructors never make.
type cliTB struct{ testing.TB }

func (cliTB) Helper()                           {}
func (cliTB) Cleanup(func())                    {}
func (cliTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

func main() {
	pace := flag.Duration("pace", 15*time.Millisecond, "pause between streamed events, like a real model's tokens")
	flag.Parse()
	srv := replay.LlamaCpp(cliTB{}, replay.WithPacing(*pace))
	fmt.Println(srv.URL)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	srv.Close()
}
