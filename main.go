// Command usepod-agent connects the inference servers on this computer to the
// Use Pod marketplace and earns USDC for the jobs it serves.
package main

import (
	"context"
	"os"

	"usepod.ai/agent/app"
)

func main() {
	app.AttachConsole(os.Args[1:])
	os.Exit(app.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
