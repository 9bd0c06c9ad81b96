package localapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/telemetry"
)

// Client talks to the agent at one address. It satisfies the UI's Engine
// interface, so the dashboard process shows a remote engine as if it were
// in process. Safe for concurrent use.
type Client struct {
	// OnError, when set, hears about failures of the calls that cannot
	// return one (Start, Pause, Config, Detect, a watch that ends). It is
	// called on the client's goroutines.
	OnError func(error)

	addr string
	http *http.Client // for requests with an answer; streams use it too, with no timeout

	mu         sync.Mutex // guards the fields below
	lastConfig *config.Config
	watchErr   error
	want       *bool // Start/Pause not sent yet; newest wins
	sending    bool  // a goroutine is sending want
}

// Timeouts of the calls that must not keep their caller long.
const (
	configTimeout  = 2 * time.Second
	controlTimeout = 10 * time.Second
)

// NewClient returns a client for addr (UserAddress or ServiceAddress). It
// does no I/O.
func NewClient(addr string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return Dial(ctx, addr) },
		// The streams each hold a connection; the rest share a few.
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{addr: addr, http: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// base is the URL every request goes to; the host is a placeholder.
const base = "http://usepod-agent"

func (c *Client) reportError(err error) {
	if err != nil && c.OnError != nil {
		c.OnError(err)
	}
}

// do sends one request and decodes a 2xx answer into out (when not nil).
// Other answers become an *Error, or the richer error the route defines.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the agent's answer to %s: %w", path, err)
	}
	return nil
}

// transportError strips the URL from a failed request: users see "Use
// Pod Agent is not running", not a made-up http:// address.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, ErrNotRunning), errors.Is(err, ErrForbidden):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the agent closed the connection: %w", err)
	}
	return fmt.Errorf("talk to the agent: %w", err)
}

// readError turns an error answer into the error it stands for.
func readError(resp *http.Response) error {
	var b errorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if json.Unmarshal(raw, &b) != nil || b.Error == "" {
		return &Error{Status: resp.StatusCode, Code: CodeFailed, Message: fmt.Sprintf("the agent answered %s", resp.Status)}
	}
	switch b.Code {
	case CodeInvalidConfig:
		ve := &config.ValidationError{Path: b.Path}
		for _, f := range b.Fields {
			ve.Errors = append(ve.Errors, config.FieldError{Key: f.Key, Line: f.Line, Message: f.Message})
		}
		if len(ve.Errors) > 0 {
			return ve
		}
	case CodeIdentityConflict:
		return &IdentityConflictError{CurrentPublicKey: b.CurrentPublicKey, CurrentProviderID: b.CurrentProviderID,
			CurrentJobs: b.CurrentJobs, CurrentEarnedMicro: b.CurrentEarnedMicro, Msg: b.Error}
	}
	return &Error{Status: resp.StatusCode, Code: b.Code, Message: b.Error}
}

// Status returns the agent's state and process id.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Snapshot is the agent's state now, so that a Client serves as the
// Engine of another process's local API (the desktop's tray attached to
// the system service answers for it at the user's address). It blocks for
// at most a few seconds; an agent that does not answer reads as
// connecting, with the error as its last error.
func (c *Client) Snapshot() engine.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), configTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return engine.Snapshot{State: engine.StateConnecting, LastError: err.Error()}
	}
	return st.Engine()
}

// Watch streams the agent's snapshots: the first is the full state, then
// the newest wins. The channel closes when ctx ends or the agent goes
// away; Err then says why.
func (c *Client) Watch(ctx context.Context) <-chan engine.Snapshot {
	out := make(chan engine.Snapshot, 1)
	go func() {
		defer close(out)
		err := streamLines(ctx, c, "/v1/watch", func(s Snapshot) {
			select { // newest wins: drop the unread one
			case <-out:
			default:
			}
			out <- s.Engine()
		})
		if ctx.Err() != nil {
			err = nil
		}
		c.mu.Lock()
		c.watchErr = err
		c.mu.Unlock()
		c.reportError(err)
	}()
	return out
}

// Err says why the last Watch channel closed: nil when its context ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watchErr
}

// ShowRequests streams the requests to bring the dashboard to the front.
// The channel closes when ctx ends or the agent goes away.
func (c *Client) ShowRequests(ctx context.Context) <-chan ShowRequest {
	out := make(chan ShowRequest, 4)
	go func() {
		defer close(out)
		err := streamLines(ctx, c, "/v1/dashboard/show-requests", func(r ShowRequest) {
			select {
			case out <- r:
			default: // the dashboard has some unread; one is enough
			}
		})
		if ctx.Err() == nil {
			c.reportError(err)
		}
	}()
	return out
}

// streamLines reads a stream of JSON lines until ctx ends or it breaks.
func streamLines[T any](ctx context.Context, c *Client, path string, each func(T)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("read the agent's stream %s: %w", path, err)
		}
		each(v)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("the agent's stream ended: %w", transportError(err))
	}
	if ctx.Err() == nil {
		return errors.New("the agent stopped")
	}
	return nil
}

// Start asks the agent to earn. It does not block: the request goes out
// on a goroutine, and a failure reaches OnError.
func (c *Client) Start() { c.setWant(true) }

// Pause asks the agent to stop taking jobs. It does not block, like Start.
func (c *Client) Pause() { c.setWant(false) }

// setWant records the newest Start or Pause and makes sure one goroutine
// sends it; a Start then Pause in quick succession ends paused.
func (c *Client) setWant(on bool) {
	c.mu.Lock()
	c.want = &on
	if c.sending {
		c.mu.Unlock()
		return
	}
	c.sending = true
	c.mu.Unlock()
	go func() {
		for {
			c.mu.Lock()
			w := c.want
			c.want = nil
			if w == nil {
				c.sending = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
			c.reportError(c.SetEarning(ctx, *w))
			cancel()
		}
	}()
}

// SetEarning starts or pauses the agent and returns once it has the order.
func (c *Client) SetEarning(ctx context.Context, on bool) error {
	path := "/v1/pause"
	if on {
		path = "/v1/start"
	}
	return c.do(ctx, http.MethodPost, path, nil, nil)
}

// SetModelEnabled switches a model on or off. It blocks.
func (c *Client) SetModelEnabled(model string, on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	return c.do(ctx, http.MethodPost, "/v1/models/enabled", modelSwitch{Model: model, Enabled: on}, nil)
}

// Config returns the agent's config. It waits at most a couple of seconds
// and then returns the last one it read (the defaults before any).
func (c *Client) Config() config.Config {
	ctx, cancel := context.WithTimeout(context.Background(), configTimeout)
	defer cancel()
	cb, err := c.getConfig(ctx)
	if err == nil {
		return cb.Config
	}
	c.reportError(err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastConfig != nil {
		return c.lastConfig.Clone()
	}
	return config.Default()
}

func (c *Client) getConfig(ctx context.Context) (configBody, error) {
	var cb configBody
	if err := c.do(ctx, http.MethodGet, "/v1/config", nil, &cb); err != nil {
		return cb, err
	}
	c.remember(cb.Config)
	return cb, nil
}

func (c *Client) remember(cfg config.Config) {
	cfg = cfg.Clone()
	c.mu.Lock()
	c.lastConfig = &cfg
	c.mu.Unlock()
}

// configTries is how often UpdateConfig re-reads and re-applies its edit
// when the config changed under it.
const configTries = 4

// UpdateConfig reads the config, applies edit and writes it back, unless
// the config changed meanwhile, in which case it tries again with the new
// one. An invalid result returns a *config.ValidationError. It blocks.
func (c *Client) UpdateConfig(edit func(*config.Config)) error {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	var err error
	for range configTries {
		var cb configBody
		if cb, err = c.getConfig(ctx); err != nil {
			return err
		}
		next := cb.Config.Clone()
		edit(&next)
		var saved configBody
		err = c.do(ctx, http.MethodPut, "/v1/config", configBody{Revision: cb.Revision, Config: next}, &saved)
		if err == nil {
			c.remember(saved.Config)
			return nil
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != CodeRevisionConflict {
			return err
		}
	}
	return err
}

// Detect asks the agent to probe the default ports. A failure gives no
// servers and reaches OnError.
func (c *Client) Detect(ctx context.Context) []backend.Health {
	var hs []healthJSON
	if err := c.do(ctx, http.MethodPost, "/v1/detect", nil, &hs); err != nil {
		c.reportError(err)
		return nil
	}
	return fromHealthJSON(hs)
}

// OpenDashboard asks the agent to open (or bring to front) the dashboard.
func (c *Client) OpenDashboard(ctx context.Context, settings bool) error {
	return c.do(ctx, http.MethodPost, "/v1/dashboard", dashboardBody{Settings: settings}, nil)
}

// Import has the agent take over the command-line agent's files. A
// different identity without Force gives an *IdentityConflictError.
func (c *Client) Import(ctx context.Context, r ImportRequest) (ImportResult, error) {
	var res ImportResult
	err := c.do(ctx, http.MethodPost, "/v1/import", r, &res)
	return res, err
}

// Hardware returns the newest telemetry sample (nil before the first) and
// the history the agent keeps, oldest first.
func (c *Client) Hardware(ctx context.Context) (latest *telemetry.Sample, history []telemetry.Sample, err error) {
	var b hardwareBody
	if err := c.do(ctx, http.MethodGet, "/v1/hardware", nil, &b); err != nil {
		return nil, nil, err
	}
	return b.Latest, b.History, nil
}

// Quit asks the agent to drain and exit; it returns once the agent has
// the order, not when it has exited.
func (c *Client) Quit(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/quit", nil, nil)
}

// maxBundle bounds a support bundle read from the agent.
const maxBundle = 64 << 20

// Diagnose asks the agent for a support bundle and returns the zip's
// bytes. It blocks while the agent gathers (a few seconds at most).
func (c *Client) Diagnose(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/diagnose", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBundle+1))
	if err != nil {
		return nil, transportError(err)
	}
	if len(b) > maxBundle {
		return nil, fmt.Errorf("the agent's support bundle is over %d MB", maxBundle>>20)
	}
	return b, nil
}
