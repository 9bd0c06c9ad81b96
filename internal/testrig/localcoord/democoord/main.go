// Command democoord runs the local coordinator for `make demo`: it accepts
// any POD-ENROLL- code, and every few seconds dispatches a small chat job to
// a model the connected agent offers, printing what came back.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/google/uuid"

	"usepod.ai/agent/internal/testrig/localcoord"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8787", "listen address")
	every := flag.Duration("every", 4*time.Second, "time between jobs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	coord := localcoord.New(localcoord.Options{})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	go http.Serve(ln, coord.Handler())
	fmt.Printf("demo coordinator: ws://%s/provider/connect (any POD-ENROLL- code is accepted)\n", ln.Addr())

	for ctx.Err() == nil {
		p, err := coord.Next(ctx)
		if err != nil {
			return
		}
		fmt.Printf("agent connected: provider %s, agent version %s\n", p.ID, p.AgentVersion)
		serve(ctx, p, *every)
	}
}

// serve dispatches jobs to one connection until it closes.
func serve(ctx context.Context, p *localcoord.Provider, every time.Duration) {
	prompts := []string{"Say hello in five words.", "Name a colour and a fruit.", "Count from one to five.", "What is a GPU, in one sentence?"}
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		models := offered(p)
		if len(models) == 0 {
			fmt.Println("the agent offers no models yet (is an inference server running?)")
			if p.Err() != nil {
				fmt.Println("agent disconnected")
				return
			}
			continue
		}
		model := models[rand.IntN(len(models))]
		format := "openai"
		if n%3 == 0 {
			format = "anthropic"
		}
		start := time.Now()
		jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, err := p.Dispatch(jctx, localcoord.JobRequest{
			JobID: uuid.NewString(), ModelID: model, Format: format, DeadlineMs: 60000,
			Request: map[string]any{"max_tokens": 48, "messages": []map[string]string{{"role": "user", "content": prompts[n%len(prompts)]}}},
		})
		cancel()
		if err != nil {
			fmt.Println("agent disconnected:", err)
			return
		}
		switch {
		case res.Done != nil:
			fmt.Printf("job %d %-9s %-24s done in %4d ms: %d chunks, %d in / %d out tokens: %q\n", n, format, model,
				time.Since(start).Milliseconds(), res.Chunks, res.Done.Tokens.Input, res.Done.Tokens.Output, text(res.Body))
		case res.Error != nil:
			fmt.Printf("job %d %-9s %-24s failed: %s: %s\n", n, format, model, res.Error.ErrorCode, res.Error.Message)
		}
	}
}

// offered lists the models of the newest capabilities frame.
func offered(p *localcoord.Provider) []string {
	frames := p.Frames()
	for i := len(frames) - 1; i >= 0; i-- {
		if frames[i].Type == "capabilities" {
			var c localcoord.Capabilities
			frames[i].Decode(&c)
			return c.ModelIDs()
		}
	}
	return nil
}

// text pulls the generated text out of an SSE body, for the demo's output.
func text(body []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Delta struct{ Text string } `json:"delta"`
		}
		if json.Unmarshal([]byte(data), &ev) != nil {
			continue
		}
		for _, c := range ev.Choices {
			b.WriteString(c.Delta.Content)
		}
		b.WriteString(ev.Delta.Text)
	}
	s := b.String()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
