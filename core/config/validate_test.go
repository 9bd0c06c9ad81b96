package config

import (
	"errors"
	"strings"
	"testing"
)

// valid is a config that passes, for the rules below to break one at a time.
func valid() Config {
	c := Default()
	c.Coordinator.EnrollmentCode = "POD-ENROLL-ABCD-1234"
	c.Operator.Wallet = "0x52908400098527886e0f7030069857d2e4169ee7"
	c.Backends = []Backend{
		{Kind: KindOllama, URL: "http://127.0.0.1:11434"},
		{Kind: KindVLLM, URL: "https://gpu.lan:8000/", Models: []string{"m"}},
	}
	c.Pricing.Models = map[string]ModelPricing{"qwen2.5:7b": {InputPer1M: 0, OutputPer1M: 1}}
	c.Limits.MaxTokensPerMinute = 0
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		keys   []string // the keys that must be reported, in order; none = valid
	}{
		{"valid", func(*Config) {}, nil},
		{"defaults", func(c *Config) { *c = Default() }, nil},
		{"no enrollment code", func(c *Config) { c.Coordinator.EnrollmentCode = "" }, nil},
		{"enrollment code with blanks", func(c *Config) { c.Coordinator.EnrollmentCode = "  POD-ENROLL-X9 \n" }, nil},
		{"enrollment code without prefix", func(c *Config) { c.Coordinator.EnrollmentCode = "ENROLL-ABC" }, []string{"coordinator.enrollment_code"}},
		{"enrollment code prefix only", func(c *Config) { c.Coordinator.EnrollmentCode = "POD-ENROLL-" }, []string{"coordinator.enrollment_code"}},
		{"enrollment code with a space inside", func(c *Config) { c.Coordinator.EnrollmentCode = "POD-ENROLL-AB CD" }, []string{"coordinator.enrollment_code"}},
		{"enrollment code with punctuation", func(c *Config) { c.Coordinator.EnrollmentCode = "POD-ENROLL-AB_CD" }, []string{"coordinator.enrollment_code"}},
		{"coordinator http", func(c *Config) { c.Coordinator.URL = "https://api.usepod.ai/provider/connect" }, []string{"coordinator.url"}},
		{"coordinator ws refused", func(c *Config) { c.Coordinator.URL = "ws://localhost:9000/x" }, []string{"coordinator.url"}},
		{"coordinator ws allowed", func(c *Config) {
			c.Coordinator.URL = "ws://localhost:9000/x"
			c.Coordinator.AllowInsecure = true
		}, nil},
		{"coordinator empty", func(c *Config) { c.Coordinator.URL = "" }, []string{"coordinator.url"}},
		{"keyring empty is auto", func(c *Config) { c.Identity.Keyring = "" }, nil},
		{"keyring system", func(c *Config) { c.Identity.Keyring = KeyringSystem }, nil},
		{"keyring file", func(c *Config) { c.Identity.Keyring = KeyringFile }, nil},
		{"keyring unknown", func(c *Config) { c.Identity.Keyring = "kwallet" }, []string{"identity.keyring"}},
		{"backend kind unknown", func(c *Config) { c.Backends[1].Kind = "tgi" }, []string{"backends[1].kind"}},
		{"backend kind missing", func(c *Config) { c.Backends[0].Kind = "" }, []string{"backends[0].kind"}},
		{"backend url missing", func(c *Config) { c.Backends[0].URL = "" }, []string{"backends[0].url"}},
		{"backend url ws", func(c *Config) { c.Backends[0].URL = "ws://127.0.0.1:1" }, []string{"backends[0].url"}},
		{"backend url no host", func(c *Config) { c.Backends[1].URL = "http:///v1" }, []string{"backends[1].url"}},
		{"backend empty model", func(c *Config) { c.Backends[1].Models = []string{"a", " "} }, []string{"backends[1].models[1]"}},
		{"every backend kind", func(c *Config) {
			c.Backends = []Backend{{KindVLLM, "http://a", nil, ""}, {KindLlamaCpp, "http://b", nil, ""}, {KindLMStudio, "http://c", nil, ""}, {KindOllama, "http://d", nil, ""}}
		}, nil},
		{"negative default price", func(c *Config) { c.Pricing.DefaultInputPer1M = -1 }, []string{"pricing.default_input_per_1m"}},
		{"negative output price", func(c *Config) { c.Pricing.DefaultOutputPer1M = -1 }, []string{"pricing.default_output_per_1m"}},
		{"negative model price", func(c *Config) { c.Pricing.Models["qwen2.5:7b"] = ModelPricing{OutputPer1M: -5} }, []string{`pricing.models."qwen2.5:7b".output_per_1m`}},
		{"empty model id", func(c *Config) { c.Pricing.Models[""] = ModelPricing{} }, []string{`pricing.models.""`}},
		{"zero prices", func(c *Config) { c.Pricing.DefaultInputPer1M, c.Pricing.DefaultOutputPer1M = 0, 0 }, nil},
		{"max_concurrent 0", func(c *Config) { c.Limits.MaxConcurrent = 0 }, []string{"limits.max_concurrent"}},
		{"max_concurrent 1", func(c *Config) { c.Limits.MaxConcurrent = 1 }, nil},
		{"max_concurrent 256", func(c *Config) { c.Limits.MaxConcurrent = 256 }, nil},
		{"max_concurrent 257", func(c *Config) { c.Limits.MaxConcurrent = 257 }, []string{"limits.max_concurrent"}},
		{"tokens per minute negative", func(c *Config) { c.Limits.MaxTokensPerMinute = -1 }, []string{"limits.max_tokens_per_minute"}},
		{"tokens per minute set", func(c *Config) { c.Limits.MaxTokensPerMinute = 1000 }, nil},
		{"log level empty", func(c *Config) { c.Observability.LogLevel = "" }, nil},
		{"log level debug", func(c *Config) { c.Observability.LogLevel = "debug" }, nil},
		{"log level verbose", func(c *Config) { c.Observability.LogLevel = "verbose" }, []string{"observability.log_level"}},
		{"wallet empty", func(c *Config) { c.Operator.Wallet = "" }, nil},
		{"wallet short", func(c *Config) { c.Operator.Wallet = "0x1234" }, []string{"operator.wallet"}},
		{"wallet not hex", func(c *Config) { c.Operator.Wallet = "0x" + strings.Repeat("g", 40) }, []string{"operator.wallet"}},
		{"wallet without 0x", func(c *Config) { c.Operator.Wallet = strings.Repeat("a", 42) }, []string{"operator.wallet"}},
		{"all at once", func(c *Config) {
			c.Coordinator.URL = "http://x"
			c.Backends[0].Kind = "x"
			c.Limits.MaxConcurrent = -3
		}, []string{"coordinator.url", "backends[0].kind", "limits.max_concurrent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if tt.keys == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			var keys []string
			for _, fe := range ve.Errors {
				keys = append(keys, fe.Key)
				if fe.Message == "" || fe.Line != 0 {
					t.Errorf("%s: message %q line %d", fe.Key, fe.Message, fe.Line)
				}
			}
			if strings.Join(keys, " ") != strings.Join(tt.keys, " ") {
				t.Errorf("keys = %q, want %q", keys, tt.keys)
			}
		})
	}
}

func TestValidateNeverShowsTheEnrollmentCode(t *testing.T) {
	c := valid()
	c.Coordinator.EnrollmentCode = "POD-ENROLL-SECRET_VALUE"
	err := c.Validate()
	if err == nil {
		t.Fatal("bad code accepted")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Error("the error shows the code")
	}
}

func TestValidateURL(t *testing.T) {
	tests := []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{DefaultCoordinatorURL, false, true},
		{"wss://10.0.0.1:8443/provider/connect", false, true},
		{"wss://[::1]:8443/", false, true},
		{"ws://localhost:9000/provider/connect", false, false},
		{"ws://localhost:9000/provider/connect", true, true},
		{"wss://", false, false},
		{"wss:///path", false, false},
		{"ws://", true, false},
		{"https://api.usepod.ai/provider/connect", true, false},
		{"api.usepod.ai/provider/connect", false, false},
		{"", true, false},
		{"wss://host:port:bad", false, false},
		{"WSS://api.usepod.ai/provider/connect", false, true}, // url.Parse lowercases the scheme
	}
	for _, tt := range tests {
		err := ValidateURL(tt.url, tt.insecure)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateURL(%q, %v) = %v, want ok=%v", tt.url, tt.insecure, err, tt.ok)
		}
	}
}

func TestRedactCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"POD-ENROLL-ABCDEFGH9Z", "POD-ENROLL-******9Z"},
		{" POD-ENROLL-7QX4-K2M9Z\n", "POD-ENROLL-******9Z"},
		{"POD-ENROLL-ABCDEF", "POD-ENROLL-******EF"},
		{"POD-ENROLL-ABCDE", "POD-ENROLL-******"},
		{"POD-ENROLL-", "POD-ENROLL-******"},
		{"something-else-entirely", "******ly"},
		{"abc", "******"},
	}
	for _, tt := range tests {
		if got := RedactCode(tt.in); got != tt.want {
			t.Errorf("RedactCode(…%d chars) = %q, want %q", len(tt.in), got, tt.want)
		}
	}
	long := "POD-ENROLL-" + strings.Repeat("Q", 30) + "9Z"
	if got := RedactCode(long); len(got) != len("POD-ENROLL-******9Z") {
		t.Errorf("redaction shows the length: %q", got)
	}
}

func TestNormalize(t *testing.T) {
	c := Default()
	c.Coordinator.URL = " " + DefaultCoordinatorURL + "\n"
	c.Coordinator.EnrollmentCode = "\tPOD-ENROLL-AB12 "
	c.Backends = []Backend{{Kind: " ollama", URL: "http://x "}}
	c.Operator.Wallet = " 0x52908400098527886e0f7030069857d2e4169ee7"
	c.Normalize()
	if c.Coordinator.URL != DefaultCoordinatorURL || c.Coordinator.EnrollmentCode != "POD-ENROLL-AB12" ||
		c.Backends[0].Kind != "ollama" || c.Backends[0].URL != "http://x" || strings.HasPrefix(c.Operator.Wallet, " ") {
		t.Errorf("not trimmed: %+v", c)
	}
}

func TestValidateEarning(t *testing.T) {
	c := Default()
	c.Earning.ResumeAfter = "soon"
	c.Earning.OnlyWhenIdle = "-1m"
	c.Earning.Schedule = []string{"mon-fri 22:00-07:00", "someday 9-5"}
	c.Earning.MaxGPUTempC = 200
	c.Earning.MaxGPUPowerW = -1
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a ValidationError", err)
	}
	for _, key := range []string{"earning.resume_after", "earning.only_when_idle", "earning.schedule[1]", "earning.max_gpu_temp_c", "earning.max_gpu_power_w"} {
		if len(ve.For(key)) != 1 {
			t.Errorf("no error for %s in %v", key, ve)
		}
	}
	if len(ve.Errors) != 5 {
		t.Errorf("%d errors, want 5: %v", len(ve.Errors), ve)
	}
	if d := Default(); d.Validate() != nil {
		t.Errorf("defaults: %v", d.Validate())
	}
}
