// Package localapi is the agent's local API: the always-on process (engine
// and tray) serves it on a Unix socket or Windows named pipe, and the
// dashboard process and the command line talk to it with Client. Only the
// user who runs the agent (and root, and with ListenOptions.Group the
// members of that group) may use it: the socket's mode or the pipe's ACL
// keeps others out, and every accepted connection's peer is checked again.
//
// It is HTTP with JSON bodies. Every error is {"error":"plain words",
// "code":"..."} with a fitting status. Routes:
//
//	GET  /v1/status                  the snapshot plus "pid"
//	GET  /v1/watch                   NDJSON stream of snapshots: the full current one, then newest-wins
//	POST /v1/start                   want to earn
//	POST /v1/pause                   stop taking jobs
//	POST /v1/models/enabled          {"model":"id","enabled":bool}
//	GET  /v1/config                  {"revision":N,"config":{...}}
//	PUT  /v1/config                  {"revision":N,"config":{...}}; 409 "revision_conflict" when N is stale,
//	                                 422 "invalid_config" with "fields":[{"key","line","message"}]
//	POST /v1/detect                  probe the default ports: [{"server":{...},"healthy",...,"error"}]
//	POST /v1/import                  {"agent_toml","identity_key","force"}; 409 "identity_conflict"
//	GET  /v1/hardware?n=0            {"latest":{...}|null,"history":[...]}; n limits the history (0: all)
//	POST /v1/dashboard               {"settings":bool}: open the dashboard (or bring it to front)
//	GET  /v1/dashboard/show-requests NDJSON stream of {"settings":bool} for the open dashboard
//	POST /v1/quit                    drain and quit the agent
//	POST /v1/diagnose                a support bundle (application/zip)
//	GET  /v1/jobs?model=&outcome=&since=&until=&after=&limit=100
//	                                 {"jobs":[...],"next":"cursor"|""}: the job record, newest first;
//	                                 outcome is "done", "failed" or one outcome; times RFC 3339;
//	                                 after is the previous page's next (keyset paging)
//	GET  /v1/jobs/summary?(filters)  {"jobs","done","failed","earned_micro",...} for the filters
//	GET  /v1/jobs/export?(filters)   text/csv (ledger.CSVHeader); trailer X-Usepod-Jobs: count, or "error: ..."
//	POST /v1/selftest                {"models":[...]} (none: all): {"results":[{"model_id","backend","ok","ttft_ms","tokens_per_s","error",...}]}
//	GET  /v1/selftest                {"results":[...]}: the last self-test of each model
//
// Streams get a write deadline per event: a reader that stops reading is
// dropped, and the engine never waits on it (its Watch is newest-wins).
package localapi
