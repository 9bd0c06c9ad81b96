// Package diagnose writes a support bundle: a zip a user can send to
// support that says what the agent is, runs on, sees and did, without any
// secret. The caller gathers the facts (from the running agent, or from
// files when none runs); Write redacts and packs them.
//
// Secrets are kept out twice: the config is redacted field by field
// (enrollment code, backend API keys, passwords and query strings in URLs),
// and then every file is scrubbed of every secret the config held, which
// catches one quoted in a log line or an error message. The identity key is
// never read at all.
package diagnose

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/core/telemetry"
)

// Input is everything a bundle can hold. A nil or empty part is left out
// and said so in README.txt; Notes say why.
type Input struct {
	At       time.Time
	Source   string // where the facts came from, e.g. "the running agent (pid 123)"
	Build    Build
	System   System
	Hardware *telemetry.Sample
	Status   *engine.Snapshot // nil when no agent runs
	Backends []backend.Health // each server's last probe
	Config   *config.Config
	// Secrets are further strings that must not appear (e.g. flag values
	// that are not in Config); every secret in Config is added by Write.
	Secrets      []string
	LogTail      []string // the last log lines, oldest first
	StateHistory []StateChange
	Totals       *ledger.Totals
	Notes        []string // what could not be gathered, in plain words
}

// Build says which agent this is.
type Build struct {
	Version   string            `json:"version"`
	GoVersion string            `json:"go_version"`
	Settings  map[string]string `json:"settings,omitempty"` // vcs.revision, -tags, CGO_ENABLED...
}

// System says what it runs on.
type System struct {
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Platform string `json:"platform,omitempty"` // e.g. "ubuntu 24.04"
	Kernel   string `json:"kernel,omitempty"`
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	MemTotal uint64 `json:"mem_total_bytes,omitempty"`
}

// StateChange is one entry of the state history.
type StateChange struct {
	At        time.Time `json:"at"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// backendProbe is a backend.Health as the bundle shows it: no API key.
type backendProbe struct {
	Kind    string          `json:"kind"`
	URL     string          `json:"url"`
	HasKey  bool            `json:"has_api_key"`
	Healthy bool            `json:"healthy"`
	Error   string          `json:"error,omitempty"`
	Models  []backend.Model `json:"models"`
}

// Write packs in as a zip into w.
func Write(w io.Writer, in Input) error {
	secrets := secretsOf(in)
	zw := zip.NewWriter(w)
	add := func(name string, body []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: in.At})
		if err != nil {
			return fmt.Errorf("support bundle %s: %w", name, err)
		}
		if _, err := f.Write(scrub(body, secrets)); err != nil {
			return fmt.Errorf("support bundle %s: %w", name, err)
		}
		return nil
	}
	addJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("support bundle %s: %w", name, err)
		}
		return add(name, append(b, '\n'))
	}

	var readme strings.Builder
	fmt.Fprintf(&readme, "Use Pod Agent support bundle, made %s\nFrom: %s\n\n", in.At.UTC().Format(time.RFC3339), in.Source)
	readme.WriteString("Secrets (the identity key, the enrollment code, backend API keys, passwords in addresses) are left out.\n\n")
	files := []struct {
		name, what string
		present    bool
		write      func(string) error
	}{
		{"build.json", "version and build", true, func(n string) error { return addJSON(n, in.Build) }},
		{"system.json", "operating system and hardware", true, func(n string) error { return addJSON(n, in.System) }},
		{"gpus.json", "the latest GPU, CPU and memory reading", in.Hardware != nil, func(n string) error { return addJSON(n, in.Hardware) }},
		{"status.json", "the agent's state, session, models and backends", in.Status != nil, func(n string) error { return addJSON(n, localapi.WireSnapshot(redactSnapshot(*in.Status))) }},
		{"backends.json", "each inference server's probe result and models", in.Backends != nil, func(n string) error { return addJSON(n, probes(in.Backends)) }},
		{"config.toml", "the settings, secrets removed", in.Config != nil, func(n string) error { return addTOML(add, n, Redact(*in.Config)) }},
		{"agent.log", "the last log lines", len(in.LogTail) > 0, func(n string) error { return add(n, []byte(strings.Join(in.LogTail, "\n")+"\n")) }},
		{"state-history.json", "the state changes since the agent started", in.StateHistory != nil, func(n string) error { return addJSON(n, in.StateHistory) }},
		{"earnings.json", "ledger totals (not the jobs)", in.Totals != nil, func(n string) error { return addJSON(n, in.Totals) }},
	}
	for _, f := range files {
		if !f.present {
			fmt.Fprintf(&readme, "  (no %s: %s)\n", f.name, f.what)
			continue
		}
		fmt.Fprintf(&readme, "  %-19s %s\n", f.name, f.what)
		if err := f.write(f.name); err != nil {
			return err
		}
	}
	if len(in.Notes) > 0 {
		readme.WriteString("\nNotes:\n")
		for _, n := range in.Notes {
			fmt.Fprintf(&readme, "  - %s\n", n)
		}
	}
	if err := add("README.txt", []byte(readme.String())); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("support bundle: %w", err)
	}
	return nil
}

func addTOML(add func(string, []byte) error, name string, c config.Config) error {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return fmt.Errorf("support bundle %s: %w", name, err)
	}
	return add(name, b.Bytes())
}

// Redacted stands in for a secret.
const Redacted = "[redacted]"

// Redact returns c without secrets: the enrollment code (its shape kept,
// as config.RedactCode shows it), backend API keys, and passwords and
// query strings in every URL.
func Redact(c config.Config) config.Config {
	c = c.Clone()
	c.Coordinator.EnrollmentCode = config.RedactCode(c.Coordinator.EnrollmentCode)
	c.Coordinator.URL = RedactURL(c.Coordinator.URL)
	for i := range c.Backends {
		if c.Backends[i].APIKey != "" {
			c.Backends[i].APIKey = Redacted
		}
		c.Backends[i].URL = RedactURL(c.Backends[i].URL)
	}
	return c
}

// RedactURL returns u without a password or query string. One that does
// not parse is replaced whole: it may be a secret typed in the wrong box.
func RedactURL(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return "(unreadable address, left out)"
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), Redacted)
	}
	if p.RawQuery != "" {
		p.RawQuery = Redacted
	}
	return p.String()
}

func redactSnapshot(s engine.Snapshot) engine.Snapshot {
	s.Coordinator = RedactURL(s.Coordinator)
	s.Backends = slices.Clone(s.Backends)
	for i := range s.Backends {
		s.Backends[i].URL = RedactURL(s.Backends[i].URL)
	}
	s.Models = slices.Clone(s.Models)
	for i := range s.Models {
		s.Models[i].BackendURL = RedactURL(s.Models[i].BackendURL)
	}
	return s
}

func probes(hs []backend.Health) []backendProbe {
	out := make([]backendProbe, 0, len(hs))
	for _, h := range hs {
		p := backendProbe{Kind: h.Server.Kind, URL: RedactURL(h.Server.URL), HasKey: h.Server.APIKey != "", Healthy: h.Healthy, Models: h.Models}
		if h.Err != nil {
			p.Error = h.Err.Error()
		}
		out = append(out, p)
	}
	return out
}

// minScrub is the shortest secret scrubbed from free text: replacing a
// shorter one everywhere would garble the bundle. Shorter secrets are still
// removed from the config and URLs field by field.
const minScrub = 4

// secretsOf lists every secret the input holds, longest first (so a
// secret that contains another is replaced whole).
func secretsOf(in Input) []string {
	var s []string
	add := func(v string) {
		if v = strings.TrimSpace(v); len(v) >= minScrub {
			s = append(s, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	addURL := func(u string) {
		p, err := url.Parse(u)
		if err != nil {
			add(u)
			return
		}
		if pw, ok := p.User.Password(); ok {
			add(pw)
		}
		for _, vs := range p.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, v := range in.Secrets {
		add(v)
	}
	if c := in.Config; c != nil {
		add(c.Coordinator.EnrollmentCode)
		addURL(c.Coordinator.URL)
		for _, b := range c.Backends {
			add(b.APIKey)
			addURL(b.URL)
		}
	}
	for _, h := range in.Backends {
		add(h.Server.APIKey)
		addURL(h.Server.URL)
	}
	if in.Status != nil {
		addURL(in.Status.Coordinator)
		for _, b := range in.Status.Backends {
			addURL(b.URL)
		}
	}
	slices.SortFunc(s, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(s) // sorted: equal secrets are neighbours
}

func scrub(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
	}
	return b
}
