package ledger

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Job is one row of the job record as List and Each return it.
type Job struct {
	// ID is the row's number in this ledger; with At it is the paging key.
	ID           int64     `json:"id"`
	At           time.Time `json:"at"` // when the job ended
	JobID        string    `json:"job_id"`
	Model        string    `json:"model"`
	Backend      string    `json:"backend"` // "" when no backend served the model
	Outcome      string    `json:"outcome"` // "done", a job_error code, "cancelled" or "aborted"
	Message      string    `json:"message"`
	InputTokens  int64     `json:"input_tokens"`
	OutputTokens int64     `json:"output_tokens"`
	InputPer1M   int64     `json:"input_per_1m"` // micro-USDC per million tokens
	OutputPer1M  int64     `json:"output_per_1m"`
	EarnedE12    int64     `json:"earned_e12"` // exact earnings in 1e-12 USDC; 0 unless done
	DurationMs   int64     `json:"duration_ms"`
	// FirstChunkMs and RelayedBytes are nil when not known: no chunk was
	// relayed, or the job was recorded before the ledger kept them.
	FirstChunkMs *int64 `json:"first_chunk_ms"`
	RelayedBytes *int64 `json:"relayed_bytes"`
}

// Done reports whether the job ended with job_done.
func (j Job) Done() bool { return j.Outcome == OutcomeDone }

// Outcome filters of JobQuery besides a single outcome.
const (
	OutcomeAny    = ""       // every job
	OutcomeFailed = "failed" // every job that did not end with job_done
)

// MaxPage bounds JobQuery.Limit.
const MaxPage = 10_000

// JobQuery selects jobs; its zero value selects all of them.
type JobQuery struct {
	Since, Until time.Time // jobs that ended in [Since, Until); zero: open
	Model        string    // "" for every model
	// Outcome is OutcomeAny, OutcomeFailed, or one outcome ("done",
	// "backend_timeout", ...).
	Outcome string
	// After continues a listing: only jobs older than the cursor (the Next
	// of the page before). "" starts at the newest.
	After string
	Limit int // List's page size, 1 to MaxPage; Each ignores it
}

// JobPage is one page of List, newest first.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	// Next is the cursor of the following (older) page; "" when this page
	// is the last.
	Next string `json:"next"`
}

// JobTotals sums the jobs a query selects.
type JobTotals struct {
	Jobs         int64 `json:"jobs"`
	Done         int64 `json:"done"`
	Failed       int64 `json:"failed"` // every outcome but done
	EarnedMicro  int64 `json:"earned_micro"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	RelayedBytes int64 `json:"relayed_bytes"`
}

// cursor is the paging key (at, id) of the last job of a page. Paging by
// key rather than OFFSET costs the same on page 1 and page 10,000.
type cursor struct{ at, id int64 }

func (c cursor) String() string { return fmt.Sprintf("%d.%d", c.at, c.id) }

func parseCursor(s string) (cursor, error) {
	a, b, ok := strings.Cut(s, ".")
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		msg := fmt.Sprintf("the page cursor %q is not one this ledger gave out", s)
		return cursor{}, &plainError{msg, ErrInvalid, errors.New(msg)}
	}
	return cursor{at, id}, nil
}

// where builds the WHERE clause of q. The failed filter is written as the
// partial indexes' own condition so SQLite uses them.
func (q JobQuery) where() (string, []any, error) {
	var conds []string
	var args []any
	if q.Model != "" {
		conds, args = append(conds, "model = ?"), append(args, q.Model)
	}
	switch q.Outcome {
	case OutcomeAny:
	case OutcomeFailed:
		conds = append(conds, "outcome <> 'done'")
	default:
		conds, args = append(conds, "outcome = ?"), append(args, q.Outcome)
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, "at < ?"), append(args, q.Until.UnixMilli())
	}
	if q.After != "" {
		c, err := parseCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "at <= ? AND (at < ? OR id < ?)")
		args = append(args, c.at, c.at, c.id)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

const jobColumns = `id, at, job_id, model, backend, outcome, message, input_tokens, output_tokens,
	input_per_1m, output_per_1m, amount_e12, duration_ms, first_chunk_ms, relayed_bytes`

func scanJob(rows *sql.Rows) (Job, error) {
	var j Job
	var at int64
	var first, bytes sql.NullInt64
	err := rows.Scan(&j.ID, &at, &j.JobID, &j.Model, &j.Backend, &j.Outcome, &j.Message,
		&j.InputTokens, &j.OutputTokens, &j.InputPer1M, &j.OutputPer1M, &j.EarnedE12,
		&j.DurationMs, &first, &bytes)
	j.At = time.UnixMilli(at)
	if first.Valid {
		j.FirstChunkMs = &first.Int64
	}
	if bytes.Valid {
		j.RelayedBytes = &bytes.Int64
	}
	return j, err
}

// List returns one page of the jobs q selects, newest first. It blocks on
// disk I/O.
func (l *Ledger) List(ctx context.Context, q JobQuery) (JobPage, error) {
	const doing = "could not read the job record"
	if q.Limit < 1 || q.Limit > MaxPage {
		return JobPage{}, fmt.Errorf("%s: a page of %d jobs is out of range (1 to %d)", doing, q.Limit, MaxPage)
	}
	where, args, err := q.where()
	if err != nil {
		return JobPage{}, fmt.Errorf("%s: %w", doing, err)
	}
	// One more than asked tells whether another page follows.
	rows, err := l.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs`+where+
		` ORDER BY at DESC, id DESC LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return JobPage{}, explain(doing, l.path, err)
	}
	defer rows.Close()
	page := JobPage{Jobs: make([]Job, 0, q.Limit)}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return JobPage{}, explain(doing, l.path, err)
		}
		if len(page.Jobs) == q.Limit {
			last := page.Jobs[len(page.Jobs)-1]
			page.Next = cursor{last.At.UnixMilli(), last.ID}.String()
			break
		}
		page.Jobs = append(page.Jobs, j)
	}
	return page, explain(doing, l.path, rows.Err())
}

// Each calls f with every job q selects, newest first, reading as it
// goes; an error from f stops it and is returned. It blocks on disk I/O.
func (l *Ledger) Each(ctx context.Context, q JobQuery, f func(Job) error) error {
	const doing = "could not read the job record"
	where, args, err := q.where()
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs`+where+` ORDER BY at DESC, id DESC`, args...)
	if err != nil {
		return explain(doing, l.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return explain(doing, l.path, err)
		}
		if err := f(j); err != nil {
			return err
		}
	}
	return explain(doing, l.path, rows.Err())
}

// Summary sums the jobs q selects (q.After and q.Limit are ignored), with
// earnings exact to 1 micro-USDC as in Totals. It reads every selected
// row: on a ledger of a million jobs, call it off the UI goroutine.
func (l *Ledger) Summary(ctx context.Context, q JobQuery) (JobTotals, error) {
	const doing = "could not read the job record"
	q.After = ""
	where, args, err := q.where()
	if err != nil {
		return JobTotals{}, fmt.Errorf("%s: %w", doing, err)
	}
	var t JobTotals
	var s sum
	err = l.db.QueryRowContext(ctx, `
SELECT count(*), coalesce(sum(outcome = 'done'), 0),
	coalesce(sum(amount_e12 / 1000000), 0), coalesce(sum(amount_e12 % 1000000), 0),
	coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(relayed_bytes), 0)
FROM jobs`+where, args...).Scan(&t.Jobs, &t.Done, &s.micro, &s.frac, &t.InputTokens, &t.OutputTokens, &t.RelayedBytes)
	if err != nil {
		return JobTotals{}, explain(doing, l.path, err)
	}
	t.Failed = t.Jobs - t.Done
	t.EarnedMicro = s.rounded()
	return t, nil
}

// CSVHeader is the first line of a job export. The columns are part of the
// agent's interface (README, "Job record"): new ones are only ever added
// at the end.
var CSVHeader = []string{
	"ended_at", "job_id", "model", "backend", "outcome", "error_message",
	"input_tokens", "output_tokens", "earned_usdc", "duration_ms", "first_chunk_ms",
	"relayed_bytes", "input_price_per_1m_usdc", "output_price_per_1m_usdc",
}

// CSVRecord is j as one CSV line under CSVHeader: times in UTC RFC 3339
// with milliseconds, amounts in USDC with all their digits (earnings to
// 1e-12, prices to 1e-6), an unknown number as an empty field.
func (j Job) CSVRecord() []string {
	opt := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return []string{
		j.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), j.JobID, j.Model, j.Backend, j.Outcome, j.Message,
		strconv.FormatInt(j.InputTokens, 10), strconv.FormatInt(j.OutputTokens, 10),
		decimal(j.EarnedE12, 12), strconv.FormatInt(j.DurationMs, 10), opt(j.FirstChunkMs),
		opt(j.RelayedBytes), decimal(j.InputPer1M, 6), decimal(j.OutputPer1M, 6),
	}
}

// decimal writes v / 10^places exactly.
func decimal(v int64, places int) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	s = s[:len(s)-places] + "." + s[len(s)-places:]
	if neg {
		s = "-" + s
	}
	return s
}

// WriteCSV writes the jobs q selects to w as CSV with CSVHeader, newest
// first, and returns how many it wrote. It blocks on disk I/O.
func (l *Ledger) WriteCSV(ctx context.Context, w io.Writer, q JobQuery) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	n := 0
	err := l.Each(ctx, q, func(j Job) error {
		n++
		return cw.Write(j.CSVRecord())
	})
	cw.Flush()
	return n, errors.Join(err, cw.Error())
}
