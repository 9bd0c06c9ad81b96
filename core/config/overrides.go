package config

import "strings"

// Overrides are settings given for one run only (the run command's flags):
// they apply over the file's settings, and stay out of the file when a
// change made during the run is saved. A zero field overrides nothing.
type Overrides struct {
	CoordinatorURL string
	EnrollmentCode string
	AllowInsecure  bool
	Keyring        string
}

// Apply sets the overridden settings in c.
func (o Overrides) Apply(c *Config) {
	if o.CoordinatorURL != "" {
		c.Coordinator.URL = o.CoordinatorURL
	}
	if code := strings.TrimSpace(o.EnrollmentCode); code != "" {
		c.Coordinator.EnrollmentCode = code
	}
	if o.AllowInsecure {
		c.Coordinator.AllowInsecure = true
	}
	if o.Keyring != "" {
		c.Identity.Keyring = o.Keyring
	}
}

// KeepOut undoes the overrides in next, a config about to be saved over
// file (the settings as the file had them): they apply to this run only.
// A setting the user changed during the run (it no longer equals the
// override) is saved as changed.
func (o Overrides) KeepOut(next, file Config) Config {
	if o.CoordinatorURL != "" && next.Coordinator.URL == o.CoordinatorURL {
		next.Coordinator.URL = file.Coordinator.URL
	}
	if code := strings.TrimSpace(o.EnrollmentCode); code != "" && next.Coordinator.EnrollmentCode == code {
		next.Coordinator.EnrollmentCode = file.Coordinator.EnrollmentCode
	}
	if o.AllowInsecure && next.Coordinator.AllowInsecure {
		next.Coordinator.AllowInsecure = file.Coordinator.AllowInsecure
	}
	if o.Keyring != "" && next.Identity.Keyring == o.Keyring {
		next.Identity.Keyring = file.Identity.Keyring
	}
	return next
}
