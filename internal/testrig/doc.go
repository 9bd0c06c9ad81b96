// Package testrig holds the stand-ins and benchmarks the tests drive; none
// of it ships. Each rig is a package of its own below this folder:
//
//	localcoord   a local coordinator on websocket.Accept (democoord runs it for make demo)
//	replay       inference servers that replay the real recordings (replayserver, make demo-replay)
//	relaybench   the relay benchmarks (pacedsse, procbench, tcprelay: make bench-procs)
//	keystore     an identity.KeyStore that keeps the key in memory
//	desktoptest  a private Xvfb, D-Bus session bus and tray watcher
//	writers      log sinks for tests: a buffer safe for many writers, a writer that fails
//
// Being under internal/, nothing outside this module can import them, and
// TestShippingBinariesLinkNoRig fails when the agent's own binary does.
package testrig
