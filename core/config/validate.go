package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"usepod.ai/agent/core/policy/schedule"
)

// FieldError is one problem with one key, so that a settings dialog can show
// it next to its field.
type FieldError struct {
	// Key is the dotted TOML key: "limits.max_concurrent", "backends[1].url"
	// (array indexes count from 0), "pricing.models.\"llama3:8b\".input_per_1m".
	Key string
	// Message says what is wrong in plain words, without the key:
	// "must be between 1 and 256, got 0".
	Message string
	// Line is the 1-based line in the file where the key (or, for a key that
	// is missing, its table) is written; 0 when not known.
	Line int

	path keyPath
}

func (e FieldError) Error() string {
	msg := e.Message
	if e.Key != "" {
		msg = e.Key + ": " + msg
	}
	if e.Line > 0 {
		msg = "line " + strconv.Itoa(e.Line) + ": " + msg
	}
	return msg
}

// ValidationError lists every problem found in a config. Load and Save
// return it as *ValidationError; read it with errors.As.
type ValidationError struct {
	Path   string // the config file, "" when the config is not tied to one
	Errors []FieldError
}

// Error puts each problem on a line of its own, naming the file, the line
// and the key: "/home/u/.config/usepod-agent/agent.toml line 7: limits.max_concurrent: must be ...".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		switch {
		case e.Path == "":
			lines[i] = fe.Error()
		case fe.Line > 0:
			lines[i] = e.Path + " " + fe.Error()
		default:
			lines[i] = e.Path + ": " + fe.Error()
		}
	}
	return strings.Join(lines, "\n")
}

// For returns the messages about key, for showing next to its field.
func (e *ValidationError) For(key string) []string {
	var msgs []string
	for _, fe := range e.Errors {
		if fe.Key == key {
			msgs = append(msgs, fe.Message)
		}
	}
	return msgs
}

// withLines fills in Path and each error's line from the keys of the file,
// and sorts the errors by line.
func (e *ValidationError) withLines(path string, kl keyLines) *ValidationError {
	e.Path = path
	for i := range e.Errors {
		e.Errors[i].Line = kl.lineOf(e.Errors[i].path)
	}
	slices.SortStableFunc(e.Errors, func(a, b FieldError) int {
		if (a.Line == 0) != (b.Line == 0) {
			return cmp.Compare(b.Line, a.Line) // unknown lines last
		}
		return cmp.Compare(a.Line, b.Line)
	})
	return e
}

// EnrollmentPrefix starts every enrollment code.
const EnrollmentPrefix = "POD-ENROLL-"

var (
	enrollmentRE = regexp.MustCompile(`^POD-ENROLL-[A-Za-z0-9-]+$`)
	walletRE     = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

// Limits on limits.max_concurrent.
const (
	MinConcurrent = 1
	MaxConcurrent = 256
)

// Validate checks every rule and reports all problems at once as a
// *ValidationError (nil when there are none). Line numbers are 0: it knows
// no file; File.Validate adds them. It does not change c; see Normalize.
func (c *Config) Validate() error {
	var v validator

	if err := ValidateURL(strings.TrimSpace(c.Coordinator.URL), c.Coordinator.AllowInsecure); err != nil {
		v.add(keyPath{}.key("coordinator").key("url"), err.Error())
	}
	if code := strings.TrimSpace(c.Coordinator.EnrollmentCode); code != "" && !enrollmentRE.MatchString(code) {
		// Never echo the code: it is a credential.
		v.add(keyPath{}.key("coordinator").key("enrollment_code"),
			"must look like "+EnrollmentPrefix+" followed by letters, digits and dashes, as shown on the Use Pod dashboard")
	}
	if w := strings.TrimSpace(c.Operator.Wallet); w != "" && !walletRE.MatchString(w) {
		v.add(keyPath{}.key("operator").key("wallet"), "must be an address: 0x followed by 40 hex digits")
	}
	switch strings.TrimSpace(c.Identity.Keyring) {
	case "", KeyringAuto, KeyringSystem, KeyringFile:
	default:
		v.add(keyPath{}.key("identity").key("keyring"),
			fmt.Sprintf("must be %q, %q or %q, got %q", KeyringAuto, KeyringSystem, KeyringFile, c.Identity.Keyring))
	}

	for i, b := range c.Backends {
		p := keyPath{}.key("backends").at(i)
		switch strings.TrimSpace(b.Kind) {
		case KindVLLM, KindLlamaCpp, KindLMStudio, KindOllama:
		case "":
			v.add(p.key("kind"), fmt.Sprintf("is missing; use %q, %q, %q or %q", KindVLLM, KindLlamaCpp, KindLMStudio, KindOllama))
		default:
			v.add(p.key("kind"), fmt.Sprintf("must be %q, %q, %q or %q, got %q", KindVLLM, KindLlamaCpp, KindLMStudio, KindOllama, b.Kind))
		}
		if err := validateHTTPURL(strings.TrimSpace(b.URL)); err != nil {
			v.add(p.key("url"), err.Error())
		}
		for j, m := range b.Models {
			if strings.TrimSpace(m) == "" {
				v.add(p.key("models").at(j), "must not be empty")
			}
		}
	}

	price := func(p keyPath, n int64) {
		if n < 0 {
			v.add(p, fmt.Sprintf("must not be negative, got %d", n))
		}
	}
	pricing := keyPath{}.key("pricing")
	price(pricing.key("default_input_per_1m"), c.Pricing.DefaultInputPer1M)
	price(pricing.key("default_output_per_1m"), c.Pricing.DefaultOutputPer1M)
	for _, m := range slices.Sorted(maps.Keys(c.Pricing.Models)) {
		p := pricing.key("models").key(m)
		if strings.TrimSpace(m) == "" {
			v.add(p, "the model id must not be empty")
		}
		price(p.key("input_per_1m"), c.Pricing.Models[m].InputPer1M)
		price(p.key("output_per_1m"), c.Pricing.Models[m].OutputPer1M)
	}

	limits := keyPath{}.key("limits")
	if n := c.Limits.MaxConcurrent; n < MinConcurrent || n > MaxConcurrent {
		v.add(limits.key("max_concurrent"), fmt.Sprintf("must be between %d and %d, got %d", MinConcurrent, MaxConcurrent, n))
	}
	if n := c.Limits.MaxTokensPerMinute; n < 0 {
		v.add(limits.key("max_tokens_per_minute"), fmt.Sprintf("must not be negative (0 means no limit), got %d", n))
	}

	earning := keyPath{}.key("earning")
	dur := func(key, val string) {
		if strings.TrimSpace(val) == "" {
			return // the default
		}
		if d, err := time.ParseDuration(strings.TrimSpace(val)); err != nil || d < 0 {
			v.add(earning.key(key), fmt.Sprintf(`must be a duration such as "2m", "90s" or "0s", got %q`, val))
		}
	}
	dur("resume_after", c.Earning.ResumeAfter)
	dur("only_when_idle", c.Earning.OnlyWhenIdle)
	for i, w := range c.Earning.Schedule {
		if _, err := schedule.ParseWindow(w); err != nil {
			v.add(earning.key("schedule").at(i), err.Error())
		}
	}
	if n := c.Earning.MaxGPUTempC; n < 0 || n > 120 {
		v.add(earning.key("max_gpu_temp_c"), fmt.Sprintf("must be between 0 (no limit) and 120, got %d", n))
	}
	if n := c.Earning.MaxGPUPowerW; n < 0 {
		v.add(earning.key("max_gpu_power_w"), fmt.Sprintf("must not be negative (0 means no limit), got %d", n))
	}

	switch strings.TrimSpace(c.Observability.LogLevel) {
	case "", "debug", "info", "warn", "error":
	default:
		v.add(keyPath{}.key("observability").key("log_level"),
			fmt.Sprintf(`must be "debug", "info", "warn" or "error", got %q`, c.Observability.LogLevel))
	}

	return v.err()
}

// ValidateURL checks a coordinator address: wss:// with a host, or ws:// when
// allowInsecure is set (local testing only; it may come from a command-line
// flag rather than the file).
func ValidateURL(u string, allowInsecure bool) error {
	if u == "" {
		return errors.New("is missing; the default is " + DefaultCoordinatorURL)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return errors.New("is not a valid address")
	}
	switch parsed.Scheme {
	case "wss":
	case "ws":
		if !allowInsecure {
			return errors.New("uses unencrypted ws://; use wss://, or allow insecure transport for local testing")
		}
	default:
		return errors.New("must start with wss://")
	}
	if parsed.Hostname() == "" {
		return errors.New("has no host name")
	}
	return nil
}

// validateHTTPURL checks an inference server address. It never echoes the
// address, which may hold a password.
func validateHTTPURL(u string) error {
	if u == "" {
		return errors.New("is missing, e.g. http://127.0.0.1:11434")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return errors.New("is not a valid address")
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return errors.New("must start with http:// or https://")
	}
	if parsed.Hostname() == "" {
		return errors.New("has no host name")
	}
	return nil
}

type validator struct{ errs []FieldError }

func (v *validator) add(p keyPath, msg string) {
	v.errs = append(v.errs, FieldError{Key: p.String(), Message: msg, path: p})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

// Normalize trims stray blanks (as pasted from a web page) from the values
// that are identifiers: addresses, the enrollment code, kinds and names of
// modes. Load and Save call it.
func (c *Config) Normalize() {
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	trim(&c.Operator.Wallet)
	trim(&c.Coordinator.URL)
	trim(&c.Coordinator.EnrollmentCode)
	trim(&c.Identity.Keyring)
	for i := range c.Backends {
		trim(&c.Backends[i].Kind)
		trim(&c.Backends[i].URL)
	}
	trim(&c.Observability.LogLevel)
}

// RedactCode hides an enrollment code for logs, keeping the prefix and the
// last two characters: "POD-ENROLL-******9Z". The number of stars is fixed,
// so the code's length is not shown either.
func RedactCode(code string) string {
	code = strings.TrimSpace(code)
	if code == "" {
		return ""
	}
	prefix, rest := "", code
	if strings.HasPrefix(code, EnrollmentPrefix) {
		prefix, rest = EnrollmentPrefix, code[len(EnrollmentPrefix):]
	}
	const stars = "******"
	if len(rest) < 6 { // too short to show any of it safely
		return prefix + stars
	}
	return prefix + stars + rest[len(rest)-2:]
}
