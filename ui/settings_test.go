package ui

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
)

// openSettings builds the UI with an unenrolled agent (no provider ID yet,
// so an enrollment code is required) and opens the settings window.
func openSettings(t *testing.T, eng *fakeEngine, actions Actions) (*UI, *settingsWindow, fyne.App) {
	t.Helper()
	u, a := newTestUI(t, eng, nil, actions)
	s := eng.snap
	s.ProviderID = ""
	u.dashboard().apply(s, testClock)
	u.ShowSettings()
	return u, u.settings, a
}

// paste puts text on the clipboard and pastes it into a cleared entry, as
// a user does with an enrollment code copied from a web page.
func paste(a fyne.App, e interface {
	fyne.Shortcutable
	SetText(string)
}, text string) {
	e.SetText("")
	a.Clipboard().SetContent(text)
	e.TypedShortcut(&fyne.ShortcutPaste{Clipboard: a.Clipboard()})
}

func TestSettingsSavesTrimmedEnrollmentCode(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	u, s, a := openSettings(t, eng, Actions{})

	paste(a, s.code, "  POD-ENROLL-ABCD1234 \n")
	test.Tap(s.save)

	if eng.edits != 1 {
		t.Fatalf("UpdateConfig called %d times, want 1", eng.edits)
	}
	if got := eng.Config().Coordinator.EnrollmentCode; got != "POD-ENROLL-ABCD1234" {
		t.Errorf("saved code = %q, want it trimmed", got)
	}
	if u.settings != nil {
		t.Error("the window stays open after a successful save")
	}
}

func TestSettingsRefusesEmptyEnrollmentCode(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	before := eng.Config()
	_, s, _ := openSettings(t, eng, Actions{})

	s.code.SetText("")
	test.Type(s.code, "   ")
	test.Tap(s.save)

	if eng.edits != 0 {
		t.Errorf("UpdateConfig called %d times for an empty code", eng.edits)
	}
	if l := s.fixedErrs[keyCode]; !l.Visible() || !strings.Contains(l.Text, "Paste the enrollment code") {
		t.Errorf("code error = %q (visible %v)", l.Text, l.Visible())
	}
	if !reflect.DeepEqual(eng.Config(), before) {
		t.Error("the config changed")
	}
}

// An invalid URL comes back from UpdateConfig as a field error: it is shown
// next to the URL field, nothing is saved and the window stays open.
func TestSettingsShowsFieldErrorNextToURL(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	before := eng.Config()
	u, s, _ := openSettings(t, eng, Actions{})

	s.url.SetText("")
	test.Type(s.url, "http://api.usepod.ai/provider/connect")
	test.Tap(s.save)

	if eng.edits != 1 {
		t.Fatalf("UpdateConfig called %d times, want 1", eng.edits)
	}
	urlErr := s.fixedErrs[keyURL]
	if !urlErr.Visible() || urlErr.Text == "" {
		t.Fatal("no error next to the URL field")
	}
	for k, l := range s.fixedErrs {
		if k != keyURL && l.Visible() {
			t.Errorf("error shown at %s too: %q", k, l.Text)
		}
	}
	if !reflect.DeepEqual(eng.Config(), before) {
		t.Error("the config changed although UpdateConfig refused it")
	}
	if u.settings == nil {
		t.Error("the window closed after a refused save")
	}
	if s.save.Disabled() {
		t.Error("Save stays disabled after the refusal")
	}
}

// A field error for a row lands on that row.
func TestSettingsRowErrors(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	_, s, _ := openSettings(t, eng, Actions{})
	s.code.SetText("POD-ENROLL-ABCD1234")
	s.addServer(config.Backend{Kind: config.KindVLLM, URL: "localhost:8000"}) // no scheme
	s.addOverride("llama3:8b", config.ModelPricing{InputPer1M: 1, OutputPer1M: 2})
	s.overrideRows[0].in.SetText("0.1234567") // too many decimals: refused before the engine
	test.Tap(s.save)
	if eng.edits != 0 {
		t.Fatal("UpdateConfig called with an unparsable price")
	}
	if l := s.overrideRows[0].err; !l.Visible() || !strings.Contains(l.Text, "six decimals") {
		t.Errorf("override error = %q (visible %v)", l.Text, l.Visible())
	}

	s.overrideRows[0].in.SetText("0.12")
	test.Tap(s.save)
	if eng.edits != 1 {
		t.Fatalf("UpdateConfig called %d times, want 1", eng.edits)
	}
	if s.serverRows[0].err.Visible() {
		t.Errorf("the good server row shows %q", s.serverRows[0].err.Text)
	}
	if l := s.serverRows[1].err; !l.Visible() || l.Text == "" {
		t.Error("no error on the server row without a scheme")
	}
	if s.overrideRows[0].err.Visible() {
		t.Errorf("override error still shown: %q", s.overrideRows[0].err.Text)
	}
}

// Saving writes what the form says, in config units.
func TestSettingsSavesEveryField(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	var logins []bool
	_, s, _ := openSettings(t, eng, Actions{SetLaunchAtLogin: func(on bool) error { logins = append(logins, on); return nil }})

	s.code.SetText("POD-ENROLL-ABCD1234")
	s.defIn.SetText("0,25")
	s.defOut.SetText("1.5")
	s.maxConc.SetText("4")
	test.Tap(s.login)
	s.keyring.SetSelectedIndex(2)
	s.addOverride("gpt-oss:20b", config.ModelPricing{})
	s.overrideRows[0].in.SetText("0.2")
	s.overrideRows[0].out.SetText("0.6")
	s.serverRows[0].apiKey.SetText(" secret ")
	test.Tap(s.save)

	c := eng.Config()
	if c.Pricing.DefaultInputPer1M != 250000 || c.Pricing.DefaultOutputPer1M != 1500000 {
		t.Errorf("default prices = %d / %d", c.Pricing.DefaultInputPer1M, c.Pricing.DefaultOutputPer1M)
	}
	if got := c.Pricing.Models["gpt-oss:20b"]; got != (config.ModelPricing{InputPer1M: 200000, OutputPer1M: 600000}) {
		t.Errorf("override = %+v", got)
	}
	if c.Limits.MaxConcurrent != 4 || c.Identity.Keyring != config.KeyringFile || !c.Desktop.LaunchAtLogin {
		t.Errorf("limits %d keyring %q login %v", c.Limits.MaxConcurrent, c.Identity.Keyring, c.Desktop.LaunchAtLogin)
	}
	if c.Backends[0].APIKey != "secret" {
		t.Errorf("api key = %q", c.Backends[0].APIKey)
	}
	if !slices.Equal(logins, []bool{true}) {
		t.Errorf("SetLaunchAtLogin calls = %v, want [true]", logins)
	}
}

// A login item that cannot be changed leaves everything as it was.
func TestSettingsLaunchAtLoginError(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	_, s, _ := openSettings(t, eng, Actions{SetLaunchAtLogin: func(bool) error { return errors.New("no autostart folder") }})
	s.code.SetText("POD-ENROLL-ABCD1234")
	test.Tap(s.login)
	test.Tap(s.save)
	if eng.edits != 0 {
		t.Error("the config was saved although the login item failed")
	}
	if l := s.fixedErrs[keyLogin]; !l.Visible() || !strings.Contains(l.Text, "no autostart folder") {
		t.Errorf("login error = %q (visible %v)", l.Text, l.Visible())
	}
}

// Detect lists what answers and offers to add it; a server already in the
// list is marked as added.
func TestSettingsDetect(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	eng.detectWith = []backend.Health{
		{Server: backend.Server{Kind: config.KindOllama, URL: "http://localhost:11434"}, Healthy: true, Models: []backend.Model{{ID: "a"}}},
		{Server: backend.Server{Kind: config.KindLMStudio, URL: "http://localhost:1234"}, Healthy: true, Models: []backend.Model{{ID: "b"}, {ID: "c"}}},
		{Server: backend.Server{Kind: config.KindVLLM, URL: "http://localhost:8000"}, Err: errors.New("connection refused")},
	}
	_, s, _ := openSettings(t, eng, Actions{})
	test.Tap(s.detectBtn)

	if got := len(s.detectResults.Objects); got != 2 {
		t.Fatalf("%d results shown, want the 2 that answered", got)
	}
	if len(s.serverRows) != 1 {
		t.Fatalf("server rows = %d before adding", len(s.serverRows))
	}
	var adds []string
	for _, row := range s.detectResults.Objects {
		for _, o := range row.(*fyne.Container).Objects {
			if b, ok := o.(*widget.Button); ok {
				adds = append(adds, b.Text)
				if !b.Disabled() {
					test.Tap(b)
				}
			}
		}
	}
	if !slices.Equal(adds, []string{"Added", "Add"}) {
		t.Errorf("buttons = %q, want [Added Add]", adds)
	}
	if len(s.serverRows) != 2 || s.serverRows[1].url.Text != "http://localhost:1234" || s.serverRows[1].kind.Selected != "LM Studio" {
		t.Errorf("LM Studio was not added: %d rows", len(s.serverRows))
	}
}

// An enrolled agent may keep an empty code field (the engine may have
// cleared the code after enrolling).
func TestSettingsEnrolledMayLeaveCodeEmpty(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	u, _ := newTestUI(t, eng, nil, Actions{})
	u.dashboard().apply(earningSnapshot(), testClock) // ProviderID set
	u.ShowSettings()
	s := u.settings
	s.code.SetText("")
	test.Tap(s.save)
	if eng.edits != 1 {
		t.Fatalf("UpdateConfig called %d times, want 1", eng.edits)
	}
	if got := eng.Config().Coordinator.EnrollmentCode; got != "POD-ENROLL-OLD00001" {
		t.Errorf("an empty field replaced the stored code: %q", got)
	}
}

func TestFieldErrorsFromOtherErrors(t *testing.T) {
	fe := fieldErrors(wrapped{map[string]string{"coordinator.url": "nope"}})
	if fe["coordinator.url"] != "nope" {
		t.Errorf("FieldErrors() not read: %v", fe)
	}
	if fieldErrors(errors.New("disk full")) != nil {
		t.Error("a plain error has field errors")
	}
	ve := &config.ValidationError{Errors: []config.FieldError{{Key: "a", Message: "x"}, {Key: "a", Message: "y"}}}
	if got := fieldErrors(ve)["a"]; got != "x; y" {
		t.Errorf("two messages for one key = %q", got)
	}
}

type wrapped struct{ m map[string]string }

func (w wrapped) Error() string                  { return "invalid" }
func (w wrapped) FieldErrors() map[string]string { return w.m }

func TestSettingsImport(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	type call struct {
		toml, key string
		replace   bool
	}
	var calls []call
	importErr := errors.New("identity.key: public key does not match the secret")
	_, s, _ := openSettings(t, eng, Actions{Import: func(toml, key string, replace bool) (string, error) {
		calls = append(calls, call{toml, key, replace})
		if importErr != nil {
			return "", importErr
		}
		if !replace {
			return "", &ImportConflict{Explanation: "This computer already has its own identity (provider id prov-old). It has not earned anything yet, so you lose nothing by replacing it."}
		}
		eng.mu.Lock()
		eng.cfg.Coordinator.URL = "wss://imported.example/provider/connect"
		eng.mu.Unlock()
		return "prov-imported", nil
	}})
	im := s.newImportDialog()

	test.Tap(im.run)
	if len(calls) != 0 || !im.status.Visible() {
		t.Fatal("Import ran with no file chosen")
	}

	im.toml.SetText("~/cli/agent.toml")
	test.Tap(im.run)
	if !strings.Contains(im.status.Text, "does not match") {
		t.Errorf("import error shown as %q", im.status.Text)
	}

	// A different identity here: the dialog asks, saying what is lost, and
	// imports nothing until the user says Replace.
	importErr = nil
	test.Tap(im.run)
	home, _ := os.UserHomeDir()
	toml := filepath.Join(home, "cli/agent.toml")
	if want := (call{toml, "", false}); len(calls) != 2 || calls[1] != want {
		t.Fatalf("Import calls = %+v, want the last to be %+v", calls, want)
	}
	if im.confirm == nil {
		t.Fatal("no confirmation asked before replacing this computer's identity")
	}
	if s.url.Text == "wss://imported.example/provider/connect" {
		t.Fatal("the settings changed before the user confirmed")
	}
	im.confirm.Confirm()
	if want := (call{toml, "", true}); len(calls) != 3 || calls[2] != want {
		t.Fatalf("Import calls = %+v, want the last to be %+v (replace confirmed)", calls, want)
	}
	if got := s.url.Text; got != "wss://imported.example/provider/connect" {
		t.Errorf("the form was not reloaded after the import: URL %q", got)
	}
	if im.done == nil {
		t.Fatal("no message after a successful import")
	}
}
