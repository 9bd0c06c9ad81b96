// Package version holds the agent's version. The one place it is set is
// FyneApp.toml; the Makefile stamps it here with
// -ldflags "-X usepod.ai/agent/core/version.Version=...".
package version

// Version is the agent's semantic version, sent as agent_version.
var Version = "0.1.0-dev"
