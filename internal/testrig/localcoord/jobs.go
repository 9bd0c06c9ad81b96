package localcoord

import (
	"bytes"
	"context"
	"fmt"
)

// JobRequest is a job frame to dispatch.
type JobRequest struct {
	Type       string `json:"type"` // set by Dispatch
	JobID      string `json:"job_id"`
	ModelID    string `json:"model_id"`
	Request    any    `json:"request"`
	Format     string `json:"format,omitempty"`
	DeadlineMs int64  `json:"deadline_ms,omitempty"`
}

// JobResult is everything the agent sent back for one job.
type JobResult struct {
	Body     []byte // the job_chunk payloads, decoded and joined in order
	Chunks   int
	Terminal Frame
	Done     *JobDone  // set for job_done
	Error    *JobError // set for job_error
}

// JobDone is a job_done frame as the coordinator reads it.
type JobDone struct {
	Tokens struct {
		Input        int64 `json:"input"`
		Output       int64 `json:"output"`
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"tokens"`
	DurationMs int64 `json:"duration_ms"`
}

// JobError is a job_error frame as the coordinator reads it.
type JobError struct {
	ErrorCode     string `json:"error_code"`
	Message       string `json:"message"`
	TokensEmitted int64  `json:"tokens_emitted"`
}

// Dispatch sends a job and waits for its terminal frame, collecting its
// chunks. It blocks until then, ctx ends, or the connection closes.
func (p *Provider) Dispatch(ctx context.Context, j JobRequest) (JobResult, error) {
	from, idx, err := p.dispatch(ctx, j)
	if err != nil {
		return JobResult{}, err
	}
	return p.collect(j.JobID, from, idx, p.frame(idx))
}

// dispatch sends a job and waits for its terminal frame; it returns the
// frame index the job was sent at and the index of its terminal frame.
func (p *Provider) dispatch(ctx context.Context, j JobRequest) (from, end int, err error) {
	j.Type = "job"
	ch := make(chan int, 1)
	p.mu.Lock()
	from = len(p.frames)
	p.ends[j.JobID] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.ends, j.JobID)
		p.mu.Unlock()
	}()
	if err := p.Send(ctx, j); err != nil {
		return 0, 0, fmt.Errorf("send job: %w", err)
	}
	select {
	case end := <-ch:
		return from, end, nil
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("wait for job %s: %w", j.JobID, ctx.Err())
	case <-p.done:
		select {
		case end := <-ch: // the terminal frame came just before the end
			return from, end, nil
		default:
		}
		return 0, 0, fmt.Errorf("%w: %v", ErrClosed, p.Err())
	}
}

// Chunks returns the decoded chunk payloads of a job received so far.
func (p *Provider) Chunks(jobID string) ([]byte, int, error) {
	p.mu.Lock()
	n := len(p.frames)
	p.mu.Unlock()
	r, err := p.collect(jobID, 0, n, Frame{})
	return r.Body, r.Chunks, err
}

func (p *Provider) collect(jobID string, from, to int, term Frame) (JobResult, error) {
	res := JobResult{Terminal: term}
	// Frames are only ever appended: a slice taken under the lock stays
	// valid without copying all of them.
	p.mu.Lock()
	frames := p.frames[from:to]
	p.mu.Unlock()
	for _, f := range frames {
		if f.JobID != jobID || f.Type != "job_chunk" {
			continue
		}
		b, err := chunkData(f.Raw)
		if err != nil {
			return res, fmt.Errorf("job_chunk data: %w", err)
		}
		res.Body = append(res.Body, b...)
		res.Chunks++
	}
	switch term.Type {
	case "job_done":
		res.Done = new(JobDone)
		return res, term.Decode(res.Done)
	case "job_error":
		res.Error = new(JobError)
		return res, term.Decode(res.Error)
	}
	return res, nil
}

// ChunkPayload decodes a job_chunk frame's data.
func ChunkPayload(f Frame) ([]byte, error) { return chunkData(f.Raw) }

// DispatchCounting sends a job and waits for its terminal frame like
// Dispatch, but only counts the payload bytes instead of decoding them: the
// throughput benchmark uses it so that the stand-in coordinator is not what
// it measures.
func (p *Provider) DispatchCounting(ctx context.Context, j JobRequest) (term Frame, payload int64, err error) {
	from, idx, err := p.dispatch(ctx, j)
	if err != nil {
		return Frame{}, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	term = p.frames[idx]
	const key = `,"data":"`
	for _, f := range p.frames[from:idx] {
		if f.JobID != j.JobID || f.Type != "job_chunk" {
			continue
		}
		i := bytes.Index(f.Raw, []byte(key))
		b64 := f.Raw[i+len(key) : len(f.Raw)-2]
		n := len(b64) / 4 * 3
		n -= bytes.Count(b64[max(len(b64)-2, 0):], []byte("="))
		payload += int64(n)
	}
	return term, payload, nil
}

// DispatchTerminal sends a job and waits for its terminal frame like
// Dispatch, but returns only that frame. A benchmark that reads the frames
// itself afterwards uses it: Dispatch scans every frame received since the
// job was sent, and hundreds of jobs ending together would have this
// process scan tens of thousands of frames each while other jobs still
// stream, delaying the reads it measures.
func (p *Provider) DispatchTerminal(ctx context.Context, j JobRequest) (Frame, error) {
	_, idx, err := p.dispatch(ctx, j)
	if err != nil {
		return Frame{}, err
	}
	return p.frame(idx), nil
}

// frame returns frame i.
func (p *Provider) frame(i int) Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames[i]
}
