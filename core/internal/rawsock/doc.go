// Package rawsock makes the relay's sockets read and write without
// telling the Go scheduler that a system call is starting.
//
// Every chunk of every stream is one read from the inference server and
// (batched) one write to the coordinator. net.Conn makes each of them a
// "blocking" system call: the runtime records the call, and when the
// process had gone idle between chunks — the usual case, tens of
// microseconds apart at hundreds of streams — the call also wakes the
// runtime's monitor thread (sysmon), which then polls every 20 µs until it
// notices the process idle again. Measured with perf on the built agent at
// 256 streams × 50 chunks/s, that monitor was 15 % of the agent's CPU and
// the wake-ups another 5 %.
//
// A socket of the net package is non-blocking: read and write return at
// once (EAGAIN when the socket is not ready) and the poller parks the
// goroutine until it is. Such a call never blocks the thread, so there is
// nothing for the scheduler to hand over while it runs; Wrap issues it as
// a raw system call through the connection's syscall.RawConn, which still
// waits on the runtime's poller, honours deadlines and reports a closed
// connection as net does.
//
// Only Linux has this path; elsewhere Wrap returns the connection as it is.
package rawsock
