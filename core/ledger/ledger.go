// Package ledger keeps the agent's own record of the jobs it ran and what
// they earned, in a SQLite file (docs/protocol.md sections 6 and 10.5): one
// row per job that ended, whether with job_done or not (a job_error,
// refusals included, a cancel, an abort; see Entry.Outcome). Only job_done
// rows earn and count in Totals and Hourly. The amounts are an estimate;
// the coordinator's settlement is authoritative.
//
// Amounts are stored exactly (see Amount) and summed before rounding, so
// totals are exact to 1 micro-USDC. Besides the jobs table the ledger keeps
// running per-model totals and 15-minute per-model buckets, updated in the
// same transaction as each job, so Totals and Hourly read a few hundred rows
// however long the ledger grows.
package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// bucketMs is the width of the pre-summed buckets: 15 minutes. Every time
// zone in use today is offset from UTC by a multiple of 15 minutes, so local
// midnights and local hours fall on bucket edges; a range edge that does not
// is summed from the jobs rows of that one bucket instead.
const bucketMs = 15 * 60 * 1000

// busyTimeoutMs is how long a statement waits for another process (say a
// second agent command reading the ledger) to release its lock. A variable
// so that tests of a locked ledger need not wait this long.
var busyTimeoutMs = 5000

// Ledger is an open earnings ledger. Its methods are safe for concurrent use;
// they block on disk I/O and are serialised over one database connection.
type Ledger struct {
	db   *sql.DB
	path string
	// The statements insertTx runs, prepared once: parsing the SQL of
	// each was most of a Record's CPU, which counts when hundreds of jobs
	// end together while others still stream.
	insertJob, addModelTotal, addBucket *sql.Stmt

	mu       sync.Mutex // guards queue and flushing
	queue    []*pendingEntry
	flushing bool // a Record call is committing the queue
}

// pendingEntry is one Record call waiting for its batch to commit.
type pendingEntry struct {
	e    Entry
	done chan error
}

// migrations[v] takes the schema from user_version v to v+1. Append only.
var migrations = []string{
	0: `
CREATE TABLE jobs (
	id            INTEGER PRIMARY KEY,
	at            INTEGER NOT NULL, -- unix milliseconds
	job_id        TEXT    NOT NULL UNIQUE,
	model         TEXT    NOT NULL,
	backend       TEXT    NOT NULL,
	input_tokens  INTEGER NOT NULL,
	output_tokens INTEGER NOT NULL,
	input_per_1m  INTEGER NOT NULL, -- micro-USDC per million tokens
	output_per_1m INTEGER NOT NULL,
	amount_e12    INTEGER NOT NULL, -- exact earnings in 1e-12 USDC
	duration_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_at ON jobs (at);
CREATE INDEX jobs_model_at ON jobs (model, at);

-- Running sums, kept by Record in the same transaction as the job row.
-- An amount is split into whole micro-USDC (amount_e12 / 1e6) and the rest
-- (amount_e12 % 1e6), so the sums stay exact and cannot overflow.
CREATE TABLE model_totals (
	model TEXT    PRIMARY KEY,
	jobs  INTEGER NOT NULL,
	micro INTEGER NOT NULL,
	frac  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE buckets (
	start_ms INTEGER NOT NULL, -- unix milliseconds, a multiple of 15 minutes
	model    TEXT    NOT NULL,
	jobs     INTEGER NOT NULL,
	micro    INTEGER NOT NULL,
	frac     INTEGER NOT NULL,
	PRIMARY KEY (start_ms, model)
) STRICT, WITHOUT ROWID;
`,
	// Every job on record: failed, refused, cancelled and aborted jobs get
	// a row too, with how they ended. Rows from schema 1 were all job_done
	// (outcome 'done'); their bytes and first-chunk time were not kept
	// (NULL). Only 'done' rows are in model_totals and buckets.
	1: `
ALTER TABLE jobs ADD COLUMN outcome TEXT NOT NULL DEFAULT 'done';
ALTER TABLE jobs ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN relayed_bytes INTEGER;
ALTER TABLE jobs ADD COLUMN first_chunk_ms INTEGER;
CREATE INDEX jobs_outcome_at ON jobs (outcome, at);
-- Failures are few: partial indexes find them without scanning the done.
CREATE INDEX jobs_failed_at ON jobs (at) WHERE outcome <> 'done';
CREATE INDEX jobs_failed_model_at ON jobs (model, at) WHERE outcome <> 'done';
`,
}

// Open opens the ledger at path, creating the file and its folder if needed,
// and brings its schema up to date. It blocks on disk I/O. Errors are in plain
// words; a damaged file is reported (errors.Is ErrCorrupt) and left as it is.
func Open(path string) (*Ledger, error) {
	const doing = "could not open the earnings ledger"
	if path == "" {
		return nil, errors.New(doing + ": no file name given")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("%s: the file name %q must not contain '?'", doing, path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "read-only file system") {
			return nil, &plainError{fmt.Sprintf("%s: cannot create the folder %s — check that this user may write there",
				doing, dir), ErrNoAccess, err}
		}
		return nil, explain(doing, path, err)
	}
	if err := ownerOnly(path); err != nil {
		return nil, explain(doing, path, err)
	}
	// Every connection gets these. synchronous=FULL in WAL mode syncs the
	// log on each commit, so a job is on disk when Record returns.
	dsn := path + "?_pragma=busy_timeout(" + fmt.Sprint(busyTimeoutMs) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, explain(doing, path, err)
	}
	// One connection: the ledger's traffic is a job now and then and a few
	// small reads, and one connection rules out lock contention with itself.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	l := &Ledger{db: db, path: path}
	if err := l.migrate(context.Background()); err != nil {
		db.Close()
		return nil, explain(doing, path, err)
	}
	if err := l.prepare(context.Background()); err != nil {
		db.Close()
		return nil, explain(doing, path, err)
	}
	return l, nil
}

// ownerOnly makes the ledger readable by its owner only, whatever the
// umask or the folder's own permissions: it creates the file 0600, or takes
// the group and other bits off an existing one and its -wal and -shm files.
// SQLite creates -wal and -shm with the database file's mode. Tightening an
// existing file is best effort (a file of another user cannot be changed;
// opening it then fails in its own words).
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil // no group or other bits; the folder's ACL decides
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			os.Chmod(p, st.Mode().Perm()&0o700)
		}
	}
	return nil
}

// Path returns the ledger's file name.
func (l *Ledger) Path() string { return l.path }

// Close closes the database. Every recorded job is already on disk.
func (l *Ledger) Close() error {
	for _, st := range []*sql.Stmt{l.insertJob, l.addModelTotal, l.addBucket} {
		if st != nil {
			st.Close()
		}
	}
	return l.db.Close()
}

// migrate checks the journal mode and applies the migrations the file lacks.
func (l *Ledger) migrate(ctx context.Context) error {
	var mode string
	if err := l.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL", mode)
	}
	var version int
	if err := l.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return &plainError{
			fmt.Sprintf("the earnings ledger %s was written by a newer version of the agent (schema %d, this one knows %d) — update the agent",
				l.path, version, len(migrations)),
			ErrNewerSchema, fmt.Errorf("user_version %d", version)}
	}
	for v := version; v < len(migrations); v++ {
		tx, err := l.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema %d to %d: %w", v, v+1, err)
		}
		// user_version lives in the file header and is part of the transaction.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// startWAL readies the write-ahead log for the first Record, for a ledger
// about to take jobs (the Keeper calls it; readers such as `jobs` and
// `earnings` never write). It blocks on disk I/O.
//
// Why: SQLite deletes the WAL file (ledger.db-wal) when its last
// connection closes, so after every clean stop the next run starts with
// none, and its first commit sets one up before its own frames: it writes
// the WAL header and syncs it, then syncs the data folder (the new file's
// name), then syncs the commit — three syncs where every later commit
// makes one (strace of the built agent). That first commit was the first
// job's record, which job_done waits for, so the first job after every
// restart paid for it (issue 18 item 7; on a disk with slow syncs, several
// times the median job). One commit here, user_version written back
// unchanged (it dirties the header page and nothing else), does that
// setup while the agent starts, before it offers any model; on a WAL left
// by a run that did not close it merely appends one page.
func (l *Ledger) startWAL(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	// Read in the transaction, so a stale version is never written back.
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return err
	}
	return tx.Commit()
}

// Record adds one finished job, done or not (see Entry.Outcome). It blocks until the job is durably on disk:
// once it returns nil, the job survives a crash or power loss. Recording a
// JobID that is already in the ledger does nothing and returns nil, so a
// repeated job_done is never counted twice. A zero At means now. Entries with
// an empty JobID or out-of-range counts or prices are refused (ErrInvalid).
//
// ctx is not used to abandon a record: once queued, an entry is committed
// (bounded by the busy timeout), so a caller never mistakes a saved job for
// a lost one.
func (l *Ledger) Record(ctx context.Context, e Entry) error {
	const doing = "could not save the earnings record"
	if err := validate(e); err != nil {
		return &plainError{doing + ": " + err.Error(), ErrInvalid, err}
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// Group commit: jobs that end together (hundreds at once under load)
	// share one transaction and one sync of the log instead of queueing for
	// one each. The first caller commits what is queued, batch after batch,
	// while the others wait for the batch that holds their entry.
	p := &pendingEntry{e: e, done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, p)
	if !l.flushing {
		l.flushing = true
		for len(l.queue) > 0 {
			batch := l.queue
			l.queue = nil
			l.mu.Unlock()
			l.commit(batch)
			l.mu.Lock()
		}
		l.flushing = false
	}
	l.mu.Unlock()
	return <-p.done
}

// commit writes a batch in one transaction and tells each entry's caller.
// When the batch fails as a whole, each entry is tried on its own, so one
// bad entry cannot fail the others.
func (l *Ledger) commit(batch []*pendingEntry) {
	const doing = "could not save the earnings record"
	err := l.insert(batch)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			p.done <- explain(doing, l.path, l.insert([]*pendingEntry{p}))
		}
		return
	}
	for _, p := range batch {
		p.done <- explain(doing, l.path, err)
	}
}

// insert adds the entries in one transaction. It runs on behalf of several
// callers, so it is not bound to any one caller's context.
func (l *Ledger) insert(batch []*pendingEntry) error {
	ctx := context.Background()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	for _, p := range batch {
		if err := l.insertTx(ctx, tx, p.e); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const (
	insertJobSQL = `
INSERT INTO jobs (at, job_id, model, backend, input_tokens, output_tokens,
	input_per_1m, output_per_1m, amount_e12, duration_ms,
	outcome, message, relayed_bytes, first_chunk_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id) DO NOTHING`
	addModelTotalSQL = `
INSERT INTO model_totals (model, jobs, micro, frac) VALUES (?, 1, ?, ?)
ON CONFLICT (model) DO UPDATE SET
	jobs = jobs + 1, micro = micro + excluded.micro, frac = frac + excluded.frac`
	addBucketSQL = `
INSERT INTO buckets (start_ms, model, jobs, micro, frac) VALUES (?, ?, 1, ?, ?)
ON CONFLICT (start_ms, model) DO UPDATE SET
	jobs = jobs + 1, micro = micro + excluded.micro, frac = frac + excluded.frac`
)

// prepare prepares the statements insertTx runs (after migrate: they name
// its tables and columns).
func (l *Ledger) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&l.insertJob, insertJobSQL}, {&l.addModelTotal, addModelTotalSQL}, {&l.addBucket, addBucketSQL}} {
		st, err := l.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.stmt = st
	}
	return nil
}

// insertTx adds e and its running sums inside tx; a duplicate JobID is
// skipped. e must be valid.
func (l *Ledger) insertTx(ctx context.Context, tx *sql.Tx, e Entry) error {
	at := e.At.UnixMilli()
	e12 := e.AmountE12() // 0 unless done
	var firstChunk any   // NULL: no chunk was relayed
	if e.FirstChunk > 0 {
		firstChunk = e.FirstChunk.Milliseconds()
	}
	res, err := tx.StmtContext(ctx, l.insertJob).ExecContext(ctx,
		at, e.JobID, e.Model, e.Backend, e.InputTokens, e.OutputTokens,
		e.InputPer1M, e.OutputPer1M, e12, e.DurationMs,
		e.outcome(), e.Message, e.RelayedBytes, firstChunk)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // nil for a duplicate
	}
	if !e.Done() {
		return nil // on record, but it earned nothing: not in the sums
	}
	micro, frac := e12/e12PerMicro, e12%e12PerMicro
	if _, err := tx.StmtContext(ctx, l.addModelTotal).ExecContext(ctx, e.Model, micro, frac); err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, l.addBucket).ExecContext(ctx, bucketStart(at), e.Model, micro, frac)
	return err
}

// sum is an exact running total of jobs.
type sum struct {
	jobs  int64
	micro int64 // whole micro-USDC
	frac  int64 // the rest, in 1e-12 USDC; may exceed one micro
}

func (s *sum) add(o sum) {
	s.jobs += o.jobs
	s.micro += o.micro
	s.frac += o.frac
}

func (s *sum) addE12(e12 int64) {
	s.add(sum{jobs: 1, micro: e12 / e12PerMicro, frac: e12 % e12PerMicro})
}

// rounded returns the total in micro-USDC, rounded half up once.
func (s sum) rounded() int64 { return s.micro + MicroFromE12(s.frac) }

// Totals returns today's, the last 7 days' and all-time earnings and job
// counts, with a line per model (largest all-time total first). "Today"
// starts at midnight in now's location; "the last 7 days" starts at
// now - 168h. Jobs dated after now count as today. It blocks on disk I/O.
func (l *Ledger) Totals(ctx context.Context, now time.Time) (Totals, error) {
	const doing = "could not read the earnings ledger"
	var t Totals
	tx, err := l.db.BeginTx(ctx, nil) // one snapshot for all the queries
	if err != nil {
		return t, explain(doing, l.path, err)
	}
	defer tx.Rollback()

	all := map[string]sum{}
	rows, err := tx.QueryContext(ctx, `SELECT model, jobs, micro, frac FROM model_totals`)
	if err != nil {
		return t, explain(doing, l.path, err)
	}
	for rows.Next() {
		var m string
		var s sum
		if err := rows.Scan(&m, &s.jobs, &s.micro, &s.frac); err != nil {
			rows.Close()
			return t, explain(doing, l.path, err)
		}
		all[m] = s
	}
	if err := rows.Close(); err != nil {
		return t, explain(doing, l.path, err)
	}
	if err := rows.Err(); err != nil {
		return t, explain(doing, l.path, err)
	}

	y, mo, d := now.Date()
	midnight := time.Date(y, mo, d, 0, 0, 0, 0, now.Location()).UnixMilli()
	weekAgo := min(now.Add(-7*24*time.Hour).UnixMilli(), midnight)
	// Two ranges: [weekAgo, midnight) and [midnight, far future).
	parts, err := rangeSums(ctx, tx, []int64{weekAgo, midnight, farFutureMs})
	if err != nil {
		return t, explain(doing, l.path, err)
	}

	var total, today, week sum
	for m, s := range all {
		total.add(s)
		td := parts[1][m]
		today.add(td)
		week.add(parts[0][m])
		week.add(td)
		t.Models = append(t.Models, ModelTotal{
			Model:      m,
			Jobs:       s.jobs,
			TotalMicro: s.rounded(),
			TodayJobs:  td.jobs,
			TodayMicro: td.rounded(),
		})
	}
	slices.SortFunc(t.Models, func(a, b ModelTotal) int {
		if c := cmp.Compare(b.TotalMicro, a.TotalMicro); c != 0 {
			return c
		}
		return strings.Compare(a.Model, b.Model)
	})
	t.TodayMicro, t.TodayJobs = today.rounded(), today.jobs
	t.Last7dMicro = week.rounded()
	t.TotalMicro, t.Jobs = total.rounded(), total.jobs
	return t, nil
}

// HourStart returns the start of the local clock hour t falls in, in t's
// location. It steps back by t's local minutes and seconds rather than
// building the time from the date and hour: that is right in zones off UTC
// by half or three quarters of an hour, and in the hour a DST change
// repeats (where time.Date may pick the other of the two).
func HourStart(t time.Time) time.Time {
	return t.Add(-(time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())))
}

// maxHours bounds Hourly's series (about 13 months).
const maxHours = 24 * 400

// Hourly returns the earnings of the last hours hours, one bucket per hour,
// oldest first, zero-filled; the last bucket is the hour now falls in (in
// now's location). It blocks on disk I/O.
func (l *Ledger) Hourly(ctx context.Context, now time.Time, hours int) ([]HourBucket, error) {
	const doing = "could not read the earnings ledger"
	if hours < 1 || hours > maxHours {
		return nil, fmt.Errorf("%s: %d hours is out of range (1 to %d)", doing, hours, maxHours)
	}
	current := HourStart(now)
	out := make([]HourBucket, hours)
	bounds := make([]int64, hours+1)
	for i := range out {
		out[i].Start = HourStart(current.Add(time.Duration(i-hours+1) * time.Hour))
		bounds[i] = out[i].Start.UnixMilli()
	}
	bounds[hours] = current.Add(time.Hour).UnixMilli()

	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, explain(doing, l.path, err)
	}
	defer tx.Rollback()
	parts, err := rangeSums(ctx, tx, bounds)
	if err != nil {
		return nil, explain(doing, l.path, err)
	}
	for i, byModel := range parts {
		var s sum
		for _, ms := range byModel {
			s.add(ms)
		}
		out[i].Micro, out[i].Jobs = s.rounded(), s.jobs
	}
	return out, nil
}

// rangeSums sums jobs per model over consecutive ranges: result i covers
// [bounds[i], bounds[i+1]) in unix milliseconds. bounds must be ascending.
// Buckets that lie inside one range are read whole; a bucket a bound cuts
// through is summed from its jobs rows, so the result is exact.
func rangeSums(ctx context.Context, tx *sql.Tx, bounds []int64) ([]map[string]sum, error) {
	n := len(bounds) - 1
	out := make([]map[string]sum, n)
	for i := range out {
		out[i] = map[string]sum{}
	}
	rangeOf := func(ms int64) int { // the range ms falls in, or -1
		i, found := slices.BinarySearch(bounds, ms)
		if !found {
			i--
		}
		if i < 0 || i >= n {
			return -1
		}
		return i
	}
	cut := map[int64]bool{} // start of each bucket a bound cuts through
	for _, b := range bounds {
		if s := bucketStart(b); s != b {
			cut[s] = true
		}
	}

	rows, err := tx.QueryContext(ctx, `
SELECT start_ms, model, jobs, micro, frac FROM buckets
WHERE start_ms >= ? AND start_ms < ?`, bucketStart(bounds[0]), bounds[n])
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var start int64
		var m string
		var s sum
		if err := rows.Scan(&start, &m, &s.jobs, &s.micro, &s.frac); err != nil {
			rows.Close()
			return nil, err
		}
		if i := rangeOf(start); i >= 0 && !cut[start] {
			t := out[i][m]
			t.add(s)
			out[i][m] = t
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	for start := range cut {
		from, to := max(start, bounds[0]), min(start+bucketMs, bounds[n])
		if from >= to {
			continue
		}
		rows, err := tx.QueryContext(ctx, `
SELECT at, model, amount_e12 FROM jobs WHERE at >= ? AND at < ? AND outcome = 'done'`, from, to)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var at, e12 int64
			var m string
			if err := rows.Scan(&at, &m, &e12); err != nil {
				rows.Close()
				return nil, err
			}
			if i := rangeOf(at); i >= 0 {
				t := out[i][m]
				t.addE12(e12)
				out[i][m] = t
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bucketStart returns the start of the bucket holding ms.
func bucketStart(ms int64) int64 {
	s := ms - ms%bucketMs
	if s > ms {
		s -= bucketMs
	}
	return s
}
