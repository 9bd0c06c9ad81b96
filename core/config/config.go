// Package config holds the agent's typed configuration: the keys of the
// command-line agent's agent.toml (docs/protocol.md section 9) plus the
// desktop agent's own additions (section 10.8). Load/validate/save live in
// load.go.
package config

// Default coordinator endpoint (docs/protocol.md section 1).
const DefaultCoordinatorURL = "wss://api.usepod.ai/provider/connect"

// Keyring modes: where the identity key is kept.
const (
	KeyringAuto   = "auto"   // OS keychain, falling back to a 0600 file where there is none
	KeyringSystem = "system" // OS keychain only; fail clearly without one
	KeyringFile   = "file"   // a 0600 file in the data dir; never touch the keychain
)

// Backend kinds, in routing preference order (docs/protocol.md section 8).
const (
	KindVLLM     = "vllm"
	KindLlamaCpp = "llamacpp"
	KindLMStudio = "lmstudio"
	KindOllama   = "ollama"
)

// Config is the whole agent.toml.
type Config struct {
	Operator      Operator      `toml:"operator"`
	Coordinator   Coordinator   `toml:"coordinator"`
	Identity      Identity      `toml:"identity"`
	Backends      []Backend     `toml:"backends"`
	Pricing       Pricing       `toml:"pricing"`
	Limits        Limits        `toml:"limits"`
	Observability Observability `toml:"observability"`
	Models        Models        `toml:"models"`  // ours
	Desktop       Desktop       `toml:"desktop"` // ours
	Earning       Earning       `toml:"earning"` // ours
}

type Operator struct {
	DisplayName  string `toml:"display_name,omitempty"`
	Wallet       string `toml:"wallet,omitempty"`
	ContactEmail string `toml:"contact_email,omitempty"`
}

type Coordinator struct {
	URL            string `toml:"url"`
	EnrollmentCode string `toml:"enrollment_code,omitempty"`
	// AllowInsecure permits ws:// (local testing only). Ours.
	AllowInsecure bool `toml:"allow_insecure,omitempty"`
}

type Identity struct {
	// KeyPath is the command-line agent's identity.key location. When set,
	// the agent uses that key file in place (identity.OpenConfigured);
	// import reads it and moves the key into the agent's own store.
	KeyPath string `toml:"key_path,omitempty"`
	// Keyring is auto, system or file. Ours.
	Keyring string `toml:"keyring,omitempty"`
}

type Backend struct {
	Kind   string   `toml:"kind"`
	URL    string   `toml:"url"`
	Models []string `toml:"models,omitempty"`  // optional allow-list
	APIKey string   `toml:"api_key,omitempty"` // sent as Authorization: Bearer
}

// Pricing is in USDC base units (1 USDC = 1,000,000) per one million tokens.
type Pricing struct {
	DefaultInputPer1M  int64                   `toml:"default_input_per_1m"`
	DefaultOutputPer1M int64                   `toml:"default_output_per_1m"`
	Models             map[string]ModelPricing `toml:"models,omitempty"`
}

type ModelPricing struct {
	InputPer1M  int64 `toml:"input_per_1m"`
	OutputPer1M int64 `toml:"output_per_1m"`
}

type Limits struct {
	MaxConcurrent      int `toml:"max_concurrent"`                  // 1..256
	MaxTokensPerMinute int `toml:"max_tokens_per_minute,omitempty"` // 0 = no limit (sent as null)
}

type Observability struct {
	PrometheusAddr string `toml:"prometheus_addr,omitempty"`
	LogLevel       string `toml:"log_level,omitempty"` // debug, info, warn, error
}

// Models holds the user's per-model switches. Ours.
type Models struct {
	Disabled []string `toml:"disabled,omitempty"`
}

// Desktop holds settings only the desktop app uses. Ours.
type Desktop struct {
	LaunchAtLogin bool `toml:"launch_at_login"`
}

// Earning says when the agent steps aside so that earning never gets in
// the user's way. Ours. Durations are Go durations ("2m", "90s"); the
// schedule's windows are parsed by core/policy.
type Earning struct {
	// PauseWhenGPUBusy: another program really uses the GPU (a game, a
	// render): offer no models until it has been gone ResumeAfter.
	PauseWhenGPUBusy bool   `toml:"pause_when_gpu_busy"`
	ResumeAfter      string `toml:"resume_after"`
	// OnlyWhenIdle: desktop only; earn only once keyboard and mouse were
	// idle this long; "0s" = off.
	OnlyWhenIdle string `toml:"only_when_idle"`
	// PauseOnBattery: desktop only; a laptop on battery takes no jobs.
	PauseOnBattery bool `toml:"pause_on_battery"`
	// Schedule lists local-time windows to earn in, e.g.
	// "mon-fri 22:00-07:00"; empty = always.
	Schedule []string `toml:"schedule"`
	// MaxGPUTempC and MaxGPUPowerW: above them fewer jobs are offered at a
	// time; 0 = no limit.
	MaxGPUTempC  int `toml:"max_gpu_temp_c"`
	MaxGPUPowerW int `toml:"max_gpu_power_w"`
}

// Default is what a new user gets: only an enrollment code is missing.
func Default() Config {
	return Config{
		Coordinator: Coordinator{URL: DefaultCoordinatorURL},
		Identity:    Identity{Keyring: KeyringAuto},
		Pricing: Pricing{
			DefaultInputPer1M:  100000, // 0.10 USDC per million input tokens
			DefaultOutputPer1M: 300000, // 0.30 USDC per million output tokens
		},
		Limits:        Limits{MaxConcurrent: 8},
		Observability: Observability{LogLevel: "info"},
		Earning: Earning{
			PauseWhenGPUBusy: true, ResumeAfter: "2m", OnlyWhenIdle: "0s",
			PauseOnBattery: true, Schedule: []string{}, MaxGPUTempC: 83,
		},
	}
}

// PriceFor resolves a model's price: the per-model entry, else the defaults.
func (c *Config) PriceFor(model string) ModelPricing {
	if p, ok := c.Pricing.Models[model]; ok {
		return p
	}
	return ModelPricing{InputPer1M: c.Pricing.DefaultInputPer1M, OutputPer1M: c.Pricing.DefaultOutputPer1M}
}

// ModelEnabled reports whether the user has not switched the model off.
func (c *Config) ModelEnabled(model string) bool {
	for _, m := range c.Models.Disabled {
		if m == model {
			return false
		}
	}
	return true
}

// SetModelEnabled records the user's switch for a model.
func (c *Config) SetModelEnabled(model string, on bool) {
	out := c.Models.Disabled[:0:0]
	for _, m := range c.Models.Disabled {
		if m != model {
			out = append(out, m)
		}
	}
	if !on {
		out = append(out, model)
	}
	c.Models.Disabled = out
}

// Clone returns a deep copy, so callers may edit it without racing readers.
func (c Config) Clone() Config {
	c.Backends = append([]Backend(nil), c.Backends...)
	for i := range c.Backends {
		c.Backends[i].Models = append([]string(nil), c.Backends[i].Models...)
	}
	if c.Pricing.Models != nil {
		m := make(map[string]ModelPricing, len(c.Pricing.Models))
		for k, v := range c.Pricing.Models {
			m[k] = v
		}
		c.Pricing.Models = m
	}
	c.Models.Disabled = append([]string(nil), c.Models.Disabled...)
	c.Earning.Schedule = append([]string{}, c.Earning.Schedule...)
	return c
}
