package localapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
)

// JobRecord is the part of *ledger.Keeper the job routes read.
type JobRecord interface {
	List(ctx context.Context, q ledger.JobQuery) (ledger.JobPage, error)
	Summary(ctx context.Context, q ledger.JobQuery) (ledger.JobTotals, error)
	WriteCSV(ctx context.Context, w io.Writer, q ledger.JobQuery) (int, error)
}

// SelfTester runs self-tests on the agent, which owns the backend routes.
type SelfTester interface {
	// Run tests the named models (every discovered model when none is
	// named) and keeps the results. It blocks while they run.
	Run(ctx context.Context, models []string) ([]selftest.Result, error)
	// Last returns the last result of every model tested.
	Last() []selftest.Result
}

// selftestRequest is the body of POST /v1/selftest.
type selftestRequest struct {
	Models []string `json:"models"`
}

// selftestBody answers the self-test routes.
type selftestBody struct {
	Results []selftest.Result `json:"results"`
}

// jobQueryValues puts q into URL parameters (the job routes' filters).
func jobQueryValues(q ledger.JobQuery) url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Model != "" {
		v.Set("model", q.Model)
	}
	if q.Outcome != "" {
		v.Set("outcome", q.Outcome)
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// parseJobQuery reads the filters of a job route; the error is for the user.
func parseJobQuery(v url.Values) (ledger.JobQuery, error) {
	q := ledger.JobQuery{Model: v.Get("model"), Outcome: v.Get("outcome"), After: v.Get("after"), Limit: 100}
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(t.key); s != "" {
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, fmt.Errorf("%s must be an RFC 3339 time, got %q", t.key, s)
			}
			*t.to = at
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ledger.MaxPage {
			return q, fmt.Errorf("limit must be a whole number from 1 to %d, got %q", ledger.MaxPage, s)
		}
		q.Limit = n
	}
	return q, nil
}

func (s *Server) jobQuery(w http.ResponseWriter, r *http.Request) (ledger.JobQuery, bool) {
	if s.o.Jobs == nil {
		notImplemented(w, "the job record")
		return ledger.JobQuery{}, false
	}
	q, err := parseJobQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return q, false
	}
	return q, true
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q, ok := s.jobQuery(w, r)
	if !ok {
		return
	}
	page, err := s.o.Jobs.List(r.Context(), q)
	if errors.Is(err, ledger.ErrInvalid) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeFailed, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) jobSummary(w http.ResponseWriter, r *http.Request) {
	q, ok := s.jobQuery(w, r)
	if !ok {
		return
	}
	t, err := s.o.Jobs.Summary(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeFailed, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// exportJobs streams the CSV as it reads the ledger; a failure after the
// first bytes can only cut the answer short, which the client notices by
// the missing trailer (see Client.ExportJobsCSV).
func (s *Server) exportJobs(w http.ResponseWriter, r *http.Request) {
	q, ok := s.jobQuery(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Trailer", exportTrailer)
	n, err := s.o.Jobs.WriteCSV(r.Context(), w, q)
	if err != nil {
		w.Header().Set(exportTrailer, "error: "+err.Error())
		return
	}
	w.Header().Set(exportTrailer, strconv.Itoa(n))
}

// exportTrailer ends a complete export with the number of jobs in it.
const exportTrailer = "X-Usepod-Jobs"

func (s *Server) selftestRun(w http.ResponseWriter, r *http.Request) {
	if s.o.SelfTest == nil {
		notImplemented(w, "self-tests")
		return
	}
	var b selftestRequest
	if !readJSON(w, r, &b) {
		return
	}
	rs, err := s.o.SelfTest.Run(r.Context(), b.Models)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, selftestBody{Results: rs})
}

func (s *Server) selftestLast(w http.ResponseWriter, r *http.Request) {
	if s.o.SelfTest == nil {
		notImplemented(w, "self-tests")
		return
	}
	writeJSON(w, http.StatusOK, selftestBody{Results: s.o.SelfTest.Last()})
}

// ListJobs returns one page of the agent's job record, newest first; pass
// the page's Next as q.After for the next one. A zero q.Limit asks for 100.
func (c *Client) ListJobs(ctx context.Context, q ledger.JobQuery) (ledger.JobPage, error) {
	var p ledger.JobPage
	err := c.do(ctx, http.MethodGet, "/v1/jobs?"+jobQueryValues(q).Encode(), nil, &p)
	return p, err
}

// JobSummary sums the jobs q selects (its After and Limit are ignored). On
// a ledger of a million jobs it takes up to a second.
func (c *Client) JobSummary(ctx context.Context, q ledger.JobQuery) (ledger.JobTotals, error) {
	q.After, q.Limit = "", 0
	var t ledger.JobTotals
	err := c.do(ctx, http.MethodGet, "/v1/jobs/summary?"+jobQueryValues(q).Encode(), nil, &t)
	return t, err
}

// ExportJobsCSV writes the jobs q selects to w as CSV (ledger.CSVHeader
// columns, newest first) and returns how many. An export the agent could
// not finish is an error, even when w has part of it.
func (c *Client) ExportJobsCSV(ctx context.Context, q ledger.JobQuery, w io.Writer) (int, error) {
	q.After, q.Limit = "", 0
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/jobs/export?"+jobQueryValues(q).Encode(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, readError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return 0, fmt.Errorf("export the job record: %w", transportError(err))
	}
	got := resp.Trailer.Get(exportTrailer)
	n, err := strconv.Atoi(got)
	if err != nil {
		if got == "" {
			got = "the agent stopped before the end"
		}
		return 0, fmt.Errorf("export the job record: %s", got)
	}
	return n, nil
}

// SelfTest runs the self-test of the named models (every discovered model
// when none is named) on the agent and returns the results. It blocks
// while they run (seconds; minutes when a server must load a model).
func (c *Client) SelfTest(ctx context.Context, models []string) ([]selftest.Result, error) {
	var b selftestBody
	err := c.do(ctx, http.MethodPost, "/v1/selftest", selftestRequest{Models: models}, &b)
	return b.Results, err
}

// SelfTestResults returns the last self-test of every model tested.
func (c *Client) SelfTestResults(ctx context.Context) ([]selftest.Result, error) {
	var b selftestBody
	err := c.do(ctx, http.MethodGet, "/v1/selftest", nil, &b)
	return b.Results, err
}
