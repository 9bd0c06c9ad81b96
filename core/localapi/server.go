package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/telemetry"
)

// Engine is what the server needs from *engine.Engine.
type Engine interface {
	Watch(ctx context.Context) <-chan engine.Snapshot
	Snapshot() engine.Snapshot
	Start()
	Pause()
	SetModelEnabled(model string, on bool) error
	Config() config.Config
	UpdateConfig(edit func(*config.Config)) error
	Detect(ctx context.Context) []backend.Health
}

// Hardware is the part of *telemetry.Sampler the hardware route reads,
// plus Watched, which the server calls on each hardware request so the app
// can sample often while a dashboard looks.
type Hardware interface {
	Latest() (telemetry.Sample, bool)
	History(n int) []telemetry.Sample
	Watched()
}

// ServerOptions wire a server. Only Engine is required; a route whose
// field is nil answers 501.
type ServerOptions struct {
	Engine   Engine
	Hardware Hardware
	// Import takes over the command-line agent's files. It may return an
	// *IdentityConflictError or a *config.ValidationError.
	Import func(ctx context.Context, r ImportRequest) (ImportResult, error)
	// OpenDashboard starts the dashboard process, or brings it to the front.
	OpenDashboard func(settings bool) error
	// Quit drains and ends the agent; it is called on its own goroutine.
	Quit func()
	// Diagnose writes a support bundle (a zip without secrets, see
	// core/diagnose) to w. It blocks while it gathers.
	Diagnose func(ctx context.Context, w io.Writer) error
	// Jobs is the job record (every job that ended, failed ones too).
	Jobs JobRecord
	// SelfTest runs and keeps the self-tests of the models.
	SelfTest SelfTester
	Log      *slog.Logger // without a component: the server adds component=localapi
	PID      int          // reported in status
}

// DefaultStreamWriteTimeout bounds one event's write on a stream.
const DefaultStreamWriteTimeout = 5 * time.Second

// Server serves the local API.
type Server struct {
	o            ServerOptions
	log          *slog.Logger
	handler      http.Handler
	writeTimeout time.Duration // per stream event; tests shorten it

	cfgMu   sync.Mutex // guards rev and revJSON; held across a config PUT
	rev     uint64     // the config revision; grows whenever the config's content changes
	revJSON string     // the config content rev stands for

	showMu   sync.Mutex // guards showSubs
	showSubs map[chan ShowRequest]struct{}
}

// NewServer builds a server; it does no I/O.
func NewServer(o ServerOptions) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		o:            o,
		log:          o.Log.With("component", "localapi"),
		writeTimeout: DefaultStreamWriteTimeout,
		showSubs:     map[chan ShowRequest]struct{}{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/watch", s.watch)
	mux.HandleFunc("POST /v1/start", s.start)
	mux.HandleFunc("POST /v1/pause", s.pause)
	mux.HandleFunc("POST /v1/models/enabled", s.setModel)
	mux.HandleFunc("GET /v1/config", s.getConfig)
	mux.HandleFunc("PUT /v1/config", s.putConfig)
	mux.HandleFunc("POST /v1/detect", s.detect)
	mux.HandleFunc("POST /v1/import", s.importCLI)
	mux.HandleFunc("GET /v1/hardware", s.hardware)
	mux.HandleFunc("POST /v1/dashboard", s.openDashboard)
	mux.HandleFunc("GET /v1/dashboard/show-requests", s.showRequests)
	mux.HandleFunc("POST /v1/quit", s.quit)
	mux.HandleFunc("POST /v1/diagnose", s.diagnose)
	mux.HandleFunc("GET /v1/jobs", s.listJobs)
	mux.HandleFunc("GET /v1/jobs/summary", s.jobSummary)
	mux.HandleFunc("GET /v1/jobs/export", s.exportJobs)
	mux.HandleFunc("POST /v1/selftest", s.selftestRun)
	mux.HandleFunc("GET /v1/selftest", s.selftestLast)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	s.handler = s.checkPeer(mux)
	return s
}

// Handler is the API without the listener: requests that did not come
// through Serve carry no peer and are served.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln until ctx ends, then closes the streams and the
// listener and returns nil. Any other end returns its error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Cancelling ctx ends every request, streams included.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: s.connContext,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("local api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// RequestShow asks every subscribed dashboard to come to the front and
// reports whether one was subscribed. It does not block.
func (s *Server) RequestShow(settings bool) (delivered bool) {
	s.showMu.Lock()
	defer s.showMu.Unlock()
	for ch := range s.showSubs {
		select {
		case ch <- ShowRequest{Settings: settings}:
		default: // that dashboard has requests it has not read; one is enough
		}
		delivered = true
	}
	return delivered
}

// peerKey carries the accepted connection's peer check to its requests.
type peerKey struct{}

type peerVerdict struct {
	admitted bool
	uid      int
	pid      int
}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	p, err := checkPeerConn(c)
	if err != nil {
		s.log.Warn("refused a local connection whose peer could not be read", "err", err)
		return context.WithValue(ctx, peerKey{}, peerVerdict{admitted: false, uid: -1, pid: -1})
	}
	if !p.admitted {
		s.log.Warn("refused a local connection from another user", "uid", p.uid, "pid", p.pid)
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func (s *Server) checkPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(peerKey{}).(peerVerdict); ok && !p.admitted {
			writeError(w, http.StatusForbidden, CodeForbidden, ErrForbidden.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

func notImplemented(w http.ResponseWriter, what string) {
	writeError(w, http.StatusNotImplemented, CodeNotImplemented, "this agent does not offer "+what)
}

// maxBody bounds request bodies; a config is a few KB.
const maxBody = 1 << 20

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Status{Snapshot: WireSnapshot(s.o.Engine.Snapshot()), PID: s.o.PID})
}

// watch streams snapshots as NDJSON until the client goes or the server
// stops. A write that misses its deadline drops the client.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	ch := s.o.Engine.Watch(r.Context())
	stream(w, r, s.writeTimeout, ch, WireSnapshot)
}

// stream writes each value from ch as one JSON line, in its wire form,
// until ch closes, the request ends or a write misses its deadline.
func stream[T, Wire any](w http.ResponseWriter, r *http.Request, timeout time.Duration, ch <-chan T, wire func(T) Wire) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.SetWriteDeadline(time.Now().Add(timeout))
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			rc.SetWriteDeadline(time.Now().Add(timeout))
			if enc.Encode(wire(v)) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	s.o.Engine.Start()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	s.o.Engine.Pause()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setModel(w http.ResponseWriter, r *http.Request) {
	var m modelSwitch
	if !readJSON(w, r, &m) {
		return
	}
	if m.Model == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "no model named")
		return
	}
	if err := s.o.Engine.SetModelEnabled(m.Model, m.Enabled); err != nil {
		writeConfigError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revisionLocked returns the revision of c, moving to a new one when c's
// content differs from the last seen.
func (s *Server) revisionLocked(c config.Config) uint64 {
	j := configJSON(c)
	if j != s.revJSON || s.rev == 0 {
		s.rev++
		s.revJSON = j
	}
	return s.rev
}

func configJSON(c config.Config) string {
	b, _ := json.Marshal(c) // maps are written sorted: equal content, equal text
	return string(b)
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	s.cfgMu.Lock()
	c := s.o.Engine.Config()
	rev := s.revisionLocked(c)
	s.cfgMu.Unlock()
	writeJSON(w, http.StatusOK, configBody{Revision: rev, Config: c})
}

// putConfig replaces the config when the client's revision is the current
// one. The check is repeated inside the engine's edit, so a change made
// meanwhile by another road (the tray) is not overwritten either.
func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	var body configBody
	if !readJSON(w, r, &body) {
		return
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	if cur := s.revisionLocked(s.o.Engine.Config()); body.Revision != cur {
		writeError(w, http.StatusConflict, CodeRevisionConflict,
			fmt.Sprintf("the settings changed meanwhile (revision %d, yours %d); reload them and try again", cur, body.Revision))
		return
	}
	stale := false
	err := s.o.Engine.UpdateConfig(func(c *config.Config) {
		if configJSON(*c) != s.revJSON {
			stale = true
			return
		}
		*c = body.Config.Clone()
	})
	switch {
	case stale:
		writeError(w, http.StatusConflict, CodeRevisionConflict, "the settings changed meanwhile; reload them and try again")
	case err != nil:
		writeConfigError(w, err)
	default:
		c := s.o.Engine.Config()
		writeJSON(w, http.StatusOK, configBody{Revision: s.revisionLocked(c), Config: c})
	}
}

// writeConfigError answers an invalid config with 422 and its fields.
func writeConfigError(w http.ResponseWriter, err error) {
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		writeError(w, http.StatusInternalServerError, CodeFailed, err.Error())
		return
	}
	b := errorBody{Error: ve.Error(), Code: CodeInvalidConfig, Path: ve.Path}
	for _, fe := range ve.Errors {
		b.Fields = append(b.Fields, fieldError{Key: fe.Key, Line: fe.Line, Message: fe.Message})
	}
	writeJSON(w, http.StatusUnprocessableEntity, b)
}

func (s *Server) detect(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, toHealthJSON(s.o.Engine.Detect(r.Context())))
}

func (s *Server) importCLI(w http.ResponseWriter, r *http.Request) {
	if s.o.Import == nil {
		notImplemented(w, "import")
		return
	}
	var req ImportRequest
	if !readJSON(w, r, &req) {
		return
	}
	res, err := s.o.Import(r.Context(), req)
	var ice *IdentityConflictError
	var ve *config.ValidationError
	switch {
	case errors.As(err, &ice):
		writeJSON(w, http.StatusConflict, errorBody{Error: ice.Error(), Code: CodeIdentityConflict,
			CurrentPublicKey: ice.CurrentPublicKey, CurrentProviderID: ice.CurrentProviderID,
			CurrentJobs: ice.CurrentJobs, CurrentEarnedMicro: ice.CurrentEarnedMicro})
	case errors.As(err, &ve):
		writeConfigError(w, ve)
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, CodeFailed, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) hardware(w http.ResponseWriter, r *http.Request) {
	if s.o.Hardware == nil {
		notImplemented(w, "hardware readings")
		return
	}
	n := 0
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("n must be a whole number from 0 up, got %q", q))
			return
		}
		n = v
	}
	s.o.Hardware.Watched()
	var b hardwareBody
	if l, ok := s.o.Hardware.Latest(); ok {
		b.Latest = &l
	}
	b.History = s.o.Hardware.History(n)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) openDashboard(w http.ResponseWriter, r *http.Request) {
	if s.o.OpenDashboard == nil {
		notImplemented(w, "a dashboard")
		return
	}
	var b dashboardBody
	if !readJSON(w, r, &b) {
		return
	}
	if err := s.o.OpenDashboard(b.Settings); err != nil {
		writeError(w, http.StatusInternalServerError, CodeFailed, "open the dashboard: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) showRequests(w http.ResponseWriter, r *http.Request) {
	ch := make(chan ShowRequest, 1)
	s.showMu.Lock()
	s.showSubs[ch] = struct{}{}
	s.showMu.Unlock()
	defer func() {
		s.showMu.Lock()
		delete(s.showSubs, ch)
		s.showMu.Unlock()
	}()
	stream(w, r, s.writeTimeout, ch, func(r ShowRequest) ShowRequest { return r }) // ShowRequest is a wire type
}

func (s *Server) quit(w http.ResponseWriter, r *http.Request) {
	if s.o.Quit == nil {
		notImplemented(w, "quit")
		return
	}
	w.WriteHeader(http.StatusAccepted)
	go s.o.Quit()
}

// diagnose answers a support bundle. It is built in memory first (it is
// small) so a failure is reported as an error, not as a cut-off zip.
func (s *Server) diagnose(w http.ResponseWriter, r *http.Request) {
	if s.o.Diagnose == nil {
		notImplemented(w, "support bundles")
		return
	}
	var b bytes.Buffer
	if err := s.o.Diagnose(r.Context(), &b); err != nil {
		writeError(w, http.StatusInternalServerError, CodeFailed, "make the support bundle: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}
