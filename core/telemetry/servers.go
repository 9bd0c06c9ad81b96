package telemetry

// ServerPIDs tells which of pids belong to an inference server: the process
// listening on one of ports, or one of its descendants (Ollama's runners).
// Only the candidates are looked at, so it costs nothing while no program
// uses the GPU. Where the OS cannot tell (not Linux) it finds none, and the
// earning policy falls back on the servers' program names.
func ServerPIDs(ports []int, pids []int) map[int]bool {
	if len(ports) == 0 || len(pids) == 0 {
		return map[int]bool{}
	}
	return serverPIDs("/proc", ports, pids)
}
