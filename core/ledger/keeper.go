package ledger

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"usepod.ai/agent/core/backoff"
)

// Defaults of the Keeper.
const (
	// MaxPending bounds the finished jobs kept in memory while the ledger
	// cannot write (about 200 bytes each).
	MaxPending = 100_000
	// JournalSuffix names the journal beside the ledger file: the jobs
	// waiting to be written, one JSON line each, so they outlive a restart.
	JournalSuffix = ".pending"
	// flushChunk is how many waiting jobs go into one transaction.
	flushChunk = 500
)

// retryBase and retryMax bound the Keeper's retry waits (the reconnect
// waits of docs/protocol.md section 7); tests shorten them.
var retryBase, retryMax = backoff.DefaultBase, backoff.DefaultMax

// Keeper is the ledger as a running agent holds it: no finished job is lost
// because the ledger cannot write (disk full, file locked by another
// program, folder not writable) or could not even be opened at start.
// Such jobs are kept in memory (up to MaxPending) and appended to a small
// journal file beside the ledger (ledger.db.pending, 0600), and a
// goroutine retries with backoff (1 s doubling to 60 s) to open the ledger
// and write them. The ledger skips a job id it already has, so a job that
// is written twice (a retry after a crash, say) is counted once. Problem
// says, in plain words, what is wrong meanwhile.
//
// Its methods are safe for concurrent use; Record blocks on disk I/O.
type Keeper struct {
	path    string
	journal string
	log     *slog.Logger

	mu       sync.Mutex // guards the fields below
	l        *Ledger    // nil while the ledger cannot be opened
	pending  []Entry    // finished jobs not yet in the ledger, oldest first
	problem  error      // why they are not; nil when the ledger works
	retrying bool       // the retry goroutine runs
	closed   bool
	noLater  bool   // Close has begun: RecordLater takes no more
	onChange func() // see SetOnChange

	stop  chan struct{}  // closed by Close: ends the retry goroutine
	wg    sync.WaitGroup // the retry goroutine
	later sync.WaitGroup // RecordLater's goroutines; Add under mu while not closed
}

// OpenKeeper opens the ledger at path. It never fails: a ledger that cannot
// be opened leaves the Keeper running, keeping jobs and retrying, and
// Problem says why. Jobs left in the journal by an earlier run are written
// now, or kept and retried, and the ledger's write-ahead log is set up, so
// that the first Record costs what every later one does (see startWAL).
// log may be nil; the Keeper adds component=ledger to it (the caller gives
// a logger without it). It blocks on disk I/O.
func OpenKeeper(path string, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ledger")
	k := &Keeper{path: path, journal: path + JournalSuffix, log: log, stop: make(chan struct{})}
	k.pending = k.readJournal()
	l, err := Open(path)
	k.mu.Lock()
	if err != nil {
		k.problem = err
		k.startRetryLocked()
		k.mu.Unlock()
		k.log.Error("the earnings ledger cannot be opened; finished jobs are kept and written once it can", "err", err)
		return k
	}
	k.l = l
	waiting := len(k.pending)
	k.retrying = waiting > 0 // flush clears it when it is done
	k.mu.Unlock()
	if waiting > 0 {
		k.log.Info("writing finished jobs kept by the last run", "jobs", waiting)
		if !k.flush() {
			k.mu.Lock()
			k.retrying = false
			k.startRetryLocked()
			k.mu.Unlock()
		}
	}
	// The WAL's one-time setup now, not in the first job's record (see
	// startWAL). A ledger that cannot write says so on that record.
	if err := l.startWAL(context.Background()); err != nil {
		k.log.Debug("could not ready the ledger's write-ahead log; the first record will", "err", err)
	}
	return k
}

// Path returns the ledger's file name.
func (k *Keeper) Path() string { return k.path }

// SetOnChange sets a function called (on the Keeper's goroutine, without
// its lock) when kept jobs have been written or the ledger starts failing,
// so that a display of the totals and of Problem can refresh. It must not
// block.
func (k *Keeper) SetOnChange(f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onChange = f
}

func (k *Keeper) changed() {
	k.mu.Lock()
	f := k.onChange
	k.mu.Unlock()
	if f != nil {
		f()
	}
}

// Record adds one finished job. When the ledger cannot write it, the job is
// kept and written later, and Record returns nil: the job is not lost. It
// returns an error only for an entry the ledger refuses (ErrInvalid) or
// when MaxPending jobs are already waiting. It blocks on disk I/O.
func (k *Keeper) Record(ctx context.Context, e Entry) error {
	if err := validate(e); err != nil {
		return &plainError{"could not save the earnings record: " + err.Error(), ErrInvalid, err}
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	k.mu.Lock()
	l, waiting := k.l, len(k.pending) > 0
	k.mu.Unlock()
	if l != nil && !waiting { // the usual case
		err := l.Record(ctx, e)
		if err == nil || errors.Is(err, ErrInvalid) {
			return err
		}
		return k.keep(e, err)
	}
	return k.keep(e, nil) // after the ones already waiting
}

// keep holds e until the ledger can take it. cause, when not nil, is why
// the ledger could not.
func (k *Keeper) keep(e Entry, cause error) error {
	k.mu.Lock()
	first := k.problem == nil && len(k.pending) == 0
	err := k.keepLocked(e, cause)
	k.mu.Unlock()
	if err == nil && first {
		k.changed()
	}
	return err
}

func (k *Keeper) keepLocked(e Entry, cause error) error {
	if k.closed {
		return errors.New("could not save the earnings record: the ledger is closed")
	}
	if len(k.pending) >= MaxPending {
		return fmt.Errorf("could not save the earnings record of job %s: %d finished jobs are already waiting for the ledger, which has not worked for a long time: %w",
			e.JobID, len(k.pending), k.problemLocked())
	}
	k.pending = append(k.pending, e)
	if err := k.appendJournalLocked(e); err != nil {
		k.log.Warn("could not add a finished job to the journal; it is kept in memory only", "job", e.JobID, "err", err)
	}
	if cause != nil {
		if k.problem == nil {
			k.log.Error("the earnings ledger cannot write; finished jobs are kept and written once it can", "err", cause)
		}
		k.problem = cause
	}
	k.startRetryLocked()
	return nil
}

func (k *Keeper) problemLocked() error {
	if k.problem == nil {
		return errors.New("the earnings ledger is not written yet")
	}
	return k.problem
}

// Problem says in plain words what is wrong with the ledger now, or "" when
// it works and nothing is waiting.
func (k *Keeper) Problem() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.problem == nil && len(k.pending) == 0 {
		return ""
	}
	jobs := "1 finished job is"
	if n := len(k.pending); n != 1 {
		jobs = fmt.Sprintf("%d finished jobs are", n)
	}
	return fmt.Sprintf("The earnings ledger is not working (%v). %s kept and will be written when it works again; retrying.",
		k.problemLocked(), jobs)
}

// Pending is the number of finished jobs waiting for the ledger.
func (k *Keeper) Pending() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pending)
}

// startRetryLocked starts the retry goroutine unless it runs.
func (k *Keeper) startRetryLocked() {
	if k.retrying || k.closed {
		return
	}
	k.retrying = true
	k.wg.Add(1)
	go k.retryLoop()
}

// retryLoop tries again with backoff until every kept job is written.
func (k *Keeper) retryLoop() {
	defer k.wg.Done()
	bo := &backoff.Backoff{Base: retryBase, Max: retryMax}
	for {
		t := time.NewTimer(bo.Next())
		select {
		case <-k.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if k.flush() {
			return
		}
	}
}

// flush opens the ledger if needed and writes the kept jobs. It reports
// whether none is left, in which case the retry goroutine is done.
func (k *Keeper) flush() bool {
	done := k.writeKept()
	if done {
		k.changed()
	}
	return done
}

func (k *Keeper) writeKept() bool {
	k.mu.Lock()
	l, batch := k.l, slices.Clone(k.pending)
	k.mu.Unlock()
	if l == nil {
		nl, err := Open(k.path)
		k.mu.Lock()
		if err != nil {
			k.problem = err
			k.mu.Unlock()
			k.log.Debug("the earnings ledger still cannot be opened", "err", err)
			return false
		}
		if k.closed {
			k.mu.Unlock()
			nl.Close()
			return true
		}
		k.l, l = nl, nl
		k.mu.Unlock()
		k.log.Info("the earnings ledger is open now")
	}
	written := 0
	var err error
	for written < len(batch) {
		chunk := batch[written:min(written+flushChunk, len(batch))]
		ps := make([]*pendingEntry, len(chunk))
		for i := range chunk {
			ps[i] = &pendingEntry{e: chunk[i]}
		}
		if err = l.insert(ps); err != nil {
			err = explain("could not save the earnings record", k.path, err)
			break
		}
		written += len(chunk)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending = k.pending[written:] // jobs kept meanwhile came after these
	if err != nil {
		k.problem = err
		k.log.Debug("the earnings ledger still cannot write", "err", err, "waiting", len(k.pending))
		return false
	}
	if len(k.pending) > 0 {
		return false // more arrived while writing: next round
	}
	k.pending = nil
	k.problem = nil
	k.retrying = false
	if err := os.Remove(k.journal); err != nil && !errors.Is(err, fs.ErrNotExist) {
		k.log.Warn("could not remove the journal of written jobs; they will be read again (and skipped) next time", "err", err)
	}
	k.log.Info("the earnings ledger works again; every kept job is written", "jobs", written)
	return true
}

// JournalPending counts the finished jobs waiting in the journal beside the
// ledger at path (kept while the ledger could not write); 0 when there is
// none. Jobs that are also in the ledger already are counted too: the
// journal is removed only once every job in it is written. It blocks on
// disk I/O.
func JournalPending(path string) int {
	k := &Keeper{journal: path + JournalSuffix, log: slog.New(slog.DiscardHandler)}
	return len(k.readJournal())
}

// journalLine is one kept job in the journal.
type journalLine struct {
	AtMs         int64  `json:"at_ms"`
	JobID        string `json:"job_id"`
	Model        string `json:"model"`
	Backend      string `json:"backend"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	InputPer1M   int64  `json:"input_per_1m"`
	OutputPer1M  int64  `json:"output_per_1m"`
	DurationMs   int64  `json:"duration_ms"`
}

// appendJournalLocked adds e to the journal and syncs it.
func (k *Keeper) appendJournalLocked(e Entry) error {
	b, _ := json.Marshal(journalLine{AtMs: e.At.UnixMilli(), JobID: e.JobID, Model: e.Model, Backend: e.Backend,
		InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, InputPer1M: e.InputPer1M, OutputPer1M: e.OutputPer1M,
		DurationMs: e.DurationMs})
	f, err := os.OpenFile(k.journal, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readJournal returns the jobs an earlier run kept. A line cut short by a
// crash, or otherwise unreadable, is skipped with a warning.
func (k *Keeper) readJournal() []Entry {
	f, err := os.Open(k.journal)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		k.log.Warn("could not read the journal of kept jobs", "path", k.journal, "err", err)
		return nil
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var j journalLine
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			k.log.Warn("skipped an unreadable line of the journal of kept jobs", "path", k.journal, "line", n)
			continue
		}
		e := Entry{At: time.UnixMilli(j.AtMs), JobID: j.JobID, Model: j.Model, Backend: j.Backend,
			InputTokens: j.InputTokens, OutputTokens: j.OutputTokens, InputPer1M: j.InputPer1M, OutputPer1M: j.OutputPer1M,
			DurationMs: j.DurationMs}
		if err := validate(e); err != nil {
			k.log.Warn("skipped an invalid job in the journal of kept jobs", "path", k.journal, "line", n, "err", err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		k.log.Warn("could not read all of the journal of kept jobs", "path", k.journal, "err", err)
	}
	return out
}

// notOpen is the error of the reads while the ledger cannot be opened.
func (k *Keeper) notOpen(doing string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return fmt.Errorf("%s: it is not open: %w", doing, k.problemLocked())
}

func (k *Keeper) ledger() *Ledger {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.l
}

// Totals is Ledger.Totals; jobs still waiting are not in it yet.
func (k *Keeper) Totals(ctx context.Context, now time.Time) (Totals, error) {
	l := k.ledger()
	if l == nil {
		return Totals{}, k.notOpen("could not read the earnings ledger")
	}
	return l.Totals(ctx, now)
}

// Hourly is Ledger.Hourly.
func (k *Keeper) Hourly(ctx context.Context, now time.Time, hours int) ([]HourBucket, error) {
	l := k.ledger()
	if l == nil {
		return nil, k.notOpen("could not read the earnings ledger")
	}
	return l.Hourly(ctx, now, hours)
}

// List is Ledger.List.
func (k *Keeper) List(ctx context.Context, q JobQuery) (JobPage, error) {
	l := k.ledger()
	if l == nil {
		return JobPage{}, k.notOpen("could not read the job record")
	}
	return l.List(ctx, q)
}

// Summary is Ledger.Summary.
func (k *Keeper) Summary(ctx context.Context, q JobQuery) (JobTotals, error) {
	l := k.ledger()
	if l == nil {
		return JobTotals{}, k.notOpen("could not read the job record")
	}
	return l.Summary(ctx, q)
}

// WriteCSV is Ledger.WriteCSV.
func (k *Keeper) WriteCSV(ctx context.Context, w io.Writer, q JobQuery) (int, error) {
	l := k.ledger()
	if l == nil {
		return 0, k.notOpen("could not read the job record")
	}
	return l.WriteCSV(ctx, w, q)
}

// RecordLater records e (a job that did not end with job_done, say) on a
// goroutine of its own, as Record would, and does not block: the caller
// is a job's goroutine that must not wait for the disk. The entry joins
// the ledger's group commit with the jobs ending at the same time; Close
// waits for it. An entry the ledger refuses is logged.
func (k *Keeper) RecordLater(e Entry) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	k.mu.Lock()
	if k.noLater {
		k.mu.Unlock()
		k.log.Warn("job ended after the ledger closed; not recorded", "job", e.JobID, "outcome", e.Outcome)
		return
	}
	k.later.Add(1)
	k.mu.Unlock()
	go func() {
		defer k.later.Done()
		if err := k.Record(context.Background(), e); err != nil {
			k.log.Error("could not record a job", "job", e.JobID, "outcome", e.Outcome, "err", err)
		}
	}()
}

// Close stops retrying and closes the ledger. Jobs still waiting stay in
// the journal and are written by the next run; it says so in the log.
func (k *Keeper) Close() error {
	k.mu.Lock()
	if k.closed || k.noLater { // closed, or closing on another goroutine
		k.mu.Unlock()
		return nil
	}
	k.noLater = true
	k.mu.Unlock()
	k.later.Wait() // RecordLater's entries: written, or kept in the journal
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	close(k.stop)
	k.wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := len(k.pending); n > 0 {
		k.log.Warn("closing with finished jobs not yet in the ledger; they stay in the journal for the next run", "jobs", n, "journal", k.journal)
	}
	if k.l == nil {
		return nil
	}
	return k.l.Close()
}
