package explain

import (
	"errors"
	"strings"

	"usepod.ai/agent/core/internal/neterr"
)

// Server is what NoBackends needs to know of one probed inference server.
type Server struct {
	Kind       string // config.Kind*
	URL        string
	Configured bool  // named in the settings, not one of the usual ports tried
	Err        error // the probe's failure; nil when it is healthy
}

// kindNames are the servers' names as their makers write them.
var kindNames = map[string]string{"vllm": "vLLM", "llamacpp": "llama.cpp", "lmstudio": "LM Studio", "ollama": "Ollama"}

// Backend explains why one inference server cannot be used. The backend
// package already words its failures for people ("nothing answers at
// http://localhost:11434 — is Ollama running?"); this splits them into what
// it means and what to do, and keeps the network cause for the details.
func Backend(kind, url string, err error) Problem {
	if err == nil {
		return Problem{}
	}
	name := kindNames[kind]
	if name == "" {
		name = kind
	}
	msg := err.Error()
	p := Problem{Kind: KindBackend, Detail: msg}
	if cause := errors.Unwrap(err); cause != nil && cause.Error() != msg {
		p.Detail = msg + " (" + cause.Error() + ")"
	}
	summary, action, _ := strings.Cut(msg, " — ")
	p.Summary = upperFirst(summary)
	switch {
	case neterr.Refused(err) || strings.HasPrefix(msg, "nothing answers at"):
		p.Summary = name + " isn't running at " + hostOf(url)
		p.Action = "Start " + name + " and load a model; it shows up here within a few seconds."
	case strings.Contains(msg, "still loading"):
		p.Action = "Wait for it to finish loading; its model is offered as soon as it is ready."
	case strings.Contains(msg, "did not answer in time"):
		p.Action = "It may be busy or stuck; restart " + name + " if this lasts."
	case strings.Contains(msg, "HTTP 404"):
		p.Action = "Another program may be using this port: check the kind and address of this server in Settings."
	case action != "":
		p.Action = upperFirst(strings.TrimSuffix(action, ".")) + "."
	default:
		p.Action = "Check " + name + " and this server's settings."
	}
	return p
}

// NoBackends explains StateNoBackends: no enabled, healthy model to offer.
// A server that answers but cannot be used (wants a key, still loading) is
// the most useful thing to say; then a configured server that is not
// running; else nothing was found on the usual ports.
func NoBackends(servers []Server, allSwitchedOff bool) Problem {
	if allSwitchedOff {
		return Problem{Kind: KindBackend, Summary: "All models are switched off",
			Action: "Turn one on in the models table to start earning."}
	}
	var notRunning *Server
	for i, s := range servers {
		if s.Err == nil {
			continue
		}
		if !neterr.Refused(s.Err) && !strings.HasPrefix(s.Err.Error(), "nothing answers at") {
			return Backend(s.Kind, s.URL, s.Err)
		}
		if s.Configured && notRunning == nil {
			notRunning = &servers[i]
		}
	}
	if notRunning != nil {
		return Backend(notRunning.Kind, notRunning.URL, notRunning.Err)
	}
	return Problem{Kind: KindBackend, Summary: "No inference server found",
		Action: "Start Ollama, LM Studio, llama.cpp or vLLM and load a model; it shows up here within a few seconds. If yours listens on another port, add it in Settings."}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	if strings.HasPrefix(s, "llama.cpp") || strings.HasPrefix(s, "vLLM") {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// hostOf shortens a URL to host:port.
func hostOf(u string) string {
	rest := u
	if _, after, ok := strings.Cut(u, "://"); ok {
		rest = after
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}
