package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/ui/present"
)

// Field keys, as config validation names them. The form shows a message for
// a key next to the field registered under it (see fieldFor).
const (
	keyCode       = "coordinator.enrollment_code"
	keyURL        = "coordinator.url"
	keyBackends   = "backends"
	keyDefaultIn  = "pricing.default_input_per_1m"
	keyDefaultOut = "pricing.default_output_per_1m"
	keyOverrides  = "pricing.models"
	keyMaxConc    = "limits.max_concurrent"
	keyLogin      = "desktop.launch_at_login"
	keyKeyring    = "identity.keyring"
)

// detectTimeout bounds the Detect button; the engine promises about 3 s.
const detectTimeout = 5 * time.Second

var settingsSize = fyne.NewSize(760, 720)

// backendKinds are the server kinds offered in the servers list, in the
// order people are most likely to run them.
var backendKinds = []string{config.KindOllama, config.KindLMStudio, config.KindLlamaCpp, config.KindVLLM}

// keyringModes are the identity key locations, in words.
var keyringModes = []struct{ mode, label string }{
	{config.KeyringAuto, "System keychain (a private file where there is none)"},
	{config.KeyringSystem, "System keychain only"},
	{config.KeyringFile, "A private file in the app's data folder"},
}

// settingsWindow edits the configuration. Nothing reaches the engine until
// Save, and then only through Engine.UpdateConfig, which refuses an invalid
// config as a whole.
type settingsWindow struct {
	u    *UI
	win  fyne.Window
	base config.Config // the config the form was loaded from

	code, url     *widget.Entry
	defIn, defOut *widget.Entry
	maxConc       *widget.Entry
	login         *widget.Check
	earning       *earningForm
	keyring       *widget.Select
	keyWhere      *widget.RichText
	servers       *fyne.Container
	serverRows    []*serverRow
	detectBtn     *widget.Button
	detectResults *fyne.Container
	overrides     *fyne.Container
	overrideRows  []*overrideRow
	save          *widget.Button
	general       *widget.Label            // errors with no field of their own
	fixedErrs     map[string]*widget.Label // field key -> its error label, for fields that are not rows
}

// serverRow is one inference server in the list.
type serverRow struct {
	kind   *widget.Select
	url    *widget.Entry
	apiKey *widget.Entry
	models []string // the allow-list from the config; kept as is
	err    *widget.Label
	box    fyne.CanvasObject
}

// overrideRow is one per-model price.
type overrideRow struct {
	model   *widget.SelectEntry
	in, out *widget.Entry
	err     *widget.Label
	box     fyne.CanvasObject
}

func newSettingsWindow(u *UI) *settingsWindow {
	s := &settingsWindow{
		u:             u,
		win:           u.app.NewWindow("Use Pod Agent — Settings"),
		code:          widget.NewEntry(),
		url:           widget.NewEntry(),
		defIn:         widget.NewEntry(),
		defOut:        widget.NewEntry(),
		maxConc:       widget.NewEntry(),
		login:         widget.NewCheck("Start Use Pod Agent when I log in", nil),
		earning:       newEarningForm(),
		keyWhere:      caption(""),
		servers:       container.NewVBox(),
		detectResults: container.NewVBox(),
		overrides:     container.NewVBox(),
		general:       errorLabel(),
	}
	s.code.SetPlaceHolder("POD-ENROLL-…")
	s.url.SetPlaceHolder(config.DefaultCoordinatorURL)
	s.defIn.SetPlaceHolder("0.10")
	s.defOut.SetPlaceHolder("0.30")
	s.maxConc.SetPlaceHolder("8")
	labels := make([]string, len(keyringModes))
	for i, m := range keyringModes {
		labels[i] = m.label
	}
	s.keyring = widget.NewSelect(labels, nil)

	s.fixedErrs = map[string]*widget.Label{}
	for _, k := range []string{keyCode, keyURL, keyBackends, keyDefaultIn, keyDefaultOut, keyOverrides, keyMaxConc, keyLogin, keyKeyring} {
		s.fixedErrs[k] = errorLabel()
	}
	for _, k := range s.earning.keys() {
		s.fixedErrs[k] = errorLabel()
	}

	s.detectBtn = widget.NewButtonWithIcon("Detect servers", theme.SearchIcon(), s.onDetect)
	addServer := widget.NewButtonWithIcon("Add server", theme.ContentAddIcon(), func() {
		s.addServer(config.Backend{Kind: config.KindOllama})
	})
	addOverride := widget.NewButtonWithIcon("Add model price", theme.ContentAddIcon(), func() {
		s.addOverride("", config.ModelPricing{InputPer1M: s.base.Pricing.DefaultInputPer1M, OutputPer1M: s.base.Pricing.DefaultOutputPer1M})
	})

	sections := []fyne.CanvasObject{
		section("Account",
			"The enrollment code from your usepod.ai account links this computer to it."),
		s.field("Enrollment code", s.code, keyCode),
		s.field("Coordinator", s.url, keyURL),

		widget.NewSeparator(),
		section("Inference servers",
			"The servers whose models this agent offers. Detect looks on the usual ports on this computer."),
		s.servers,
		s.fixedErrs[keyBackends],
		container.NewHBox(addServer, s.detectBtn),
		s.detectResults,

		widget.NewSeparator(),
		section("Prices",
			"In USDC per 1 million tokens. A model without its own price uses the defaults."),
		s.field("Input tokens", narrow(s.defIn, "USDC per 1M"), keyDefaultIn),
		s.field("Output tokens", narrow(s.defOut, "USDC per 1M"), keyDefaultOut),
		s.field("Per model", container.NewVBox(s.overrides, container.NewHBox(addOverride)), keyOverrides),

		widget.NewSeparator(),
		section("Jobs", ""),
		s.field("Jobs at once", narrow(s.maxConc, "1 to 256; more than your server handles at once only queues them"), keyMaxConc),

		widget.NewSeparator(),
	}
	sections = append(sections, s.earning.section(s)...)
	sections = append(sections,
		widget.NewSeparator(),
		section("This computer", ""),
		s.field("Identity key", container.NewVBox(s.keyring, s.keyWhere), keyKeyring),
	)
	if u.actions.SetLaunchAtLogin != nil {
		sections = append(sections, s.field("", s.login, keyLogin))
	}
	if u.actions.Import != nil {
		sections = append(sections, s.field("", container.NewHBox(
			widget.NewButtonWithIcon("Import from the command-line agent…", theme.DownloadIcon(), s.showImport)), ""))
	}

	s.save = widget.NewButton("Save", s.onSave)
	s.save.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", s.win.Close)
	buttons := container.NewBorder(nil, nil, nil, container.NewHBox(cancel, s.save), s.general)

	form := container.NewPadded(container.NewVBox(sections...))
	s.win.SetContent(container.NewBorder(nil, container.NewPadded(buttons), nil, nil, container.NewVScroll(form)))
	s.win.Resize(settingsSize)
	s.load(u.eng.Config())
	return s
}

// labelWidth lines up every field of the window on one column.
const labelWidth = 150

// field is a label column and a field with its error message under it.
func (s *settingsWindow) field(label string, obj fyne.CanvasObject, key string) fyne.CanvasObject {
	l := widget.NewLabel(label)
	l.Alignment = fyne.TextAlignTrailing
	right := obj
	if key != "" {
		right = container.New(layout.NewCustomPaddedVBoxLayout(0), obj, s.fixedErrs[key])
	}
	return container.NewBorder(nil, nil, container.NewStack(fixedSize(labelWidth, 0), container.NewVBox(l)), nil, right)
}

// narrow is a short entry for a number, with its unit or a hint beside it.
func narrow(e *widget.Entry, unit string) fyne.CanvasObject {
	return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(120, e.MinSize().Height), e), nil,
		container.NewVBox(layout.NewSpacer(), secondaryText(unit, theme.SizeNameText), layout.NewSpacer()))
}

// section is a heading with an optional explanation.
func section(title, help string) fyne.CanvasObject {
	h := widget.NewLabel(title)
	h.TextStyle.Bold = true
	h.SizeName = theme.SizeNameSubHeadingText
	if help == "" {
		return h
	}
	t := caption(help)
	t.Wrapping = fyne.TextWrapWord
	return container.New(layout.NewCustomPaddedVBoxLayout(0), h, t)
}

// load fills the form from a config.
func (s *settingsWindow) load(c config.Config) {
	s.base = c.Clone()
	s.code.SetText(c.Coordinator.EnrollmentCode)
	s.url.SetText(c.Coordinator.URL)
	s.defIn.SetText(formatPrice(c.Pricing.DefaultInputPer1M))
	s.defOut.SetText(formatPrice(c.Pricing.DefaultOutputPer1M))
	s.maxConc.SetText(strconv.Itoa(c.Limits.MaxConcurrent))
	s.login.SetChecked(c.Desktop.LaunchAtLogin)
	s.earning.load(c.Earning)
	s.keyring.SetSelectedIndex(0)
	for i, m := range keyringModes {
		if m.mode == c.Identity.Keyring {
			s.keyring.SetSelectedIndex(i)
		}
	}
	if s.u.dash != nil && s.u.dash.last.KeyWhere != "" {
		setText(s.keyWhere, "Now kept in "+s.u.dash.last.KeyWhere+".")
	}

	s.serverRows = nil
	s.servers.Objects = nil
	for _, b := range c.Backends {
		s.addServer(b)
	}
	s.overrideRows = nil
	s.overrides.Objects = nil
	ids := make([]string, 0, len(c.Pricing.Models))
	for id := range c.Pricing.Models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s.addOverride(id, c.Pricing.Models[id])
	}
	s.clearErrors()
}

// addServer appends a row to the servers list.
func (s *settingsWindow) addServer(b config.Backend) {
	r := &serverRow{
		kind:   widget.NewSelect(kindLabels(), nil),
		url:    widget.NewEntry(),
		apiKey: widget.NewPasswordEntry(),
		models: slices.Clone(b.Models),
		err:    errorLabel(),
	}
	r.kind.SetSelected(present.BackendName(b.Kind))
	r.url.SetText(b.URL)
	r.url.SetPlaceHolder("http://localhost:11434")
	r.apiKey.SetText(b.APIKey)
	r.apiKey.SetPlaceHolder("API key (optional)")
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
		i := slices.Index(s.serverRows, r)
		s.serverRows = slices.Delete(s.serverRows, i, i+1)
		s.servers.Remove(r.box)
	})
	right := container.NewHBox(container.NewGridWrap(fyne.NewSize(190, r.apiKey.MinSize().Height), r.apiKey), remove)
	r.box = container.New(layout.NewCustomPaddedVBoxLayout(0),
		container.NewBorder(nil, nil, r.kind, right, r.url), r.err)
	s.serverRows = append(s.serverRows, r)
	s.servers.Add(r.box)
}

// addOverride appends a row to the per-model prices.
func (s *settingsWindow) addOverride(model string, p config.ModelPricing) {
	r := &overrideRow{
		model: widget.NewSelectEntry(s.knownModels()),
		in:    widget.NewEntry(),
		out:   widget.NewEntry(),
		err:   errorLabel(),
	}
	r.model.SetText(model)
	r.model.SetPlaceHolder("Model")
	r.in.SetText(formatPrice(p.InputPer1M))
	r.out.SetText(formatPrice(p.OutputPer1M))
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
		i := slices.Index(s.overrideRows, r)
		s.overrideRows = slices.Delete(s.overrideRows, i, i+1)
		s.overrides.Remove(r.box)
	})
	size := fyne.NewSize(90, r.in.MinSize().Height)
	prices := container.NewHBox(
		widget.NewLabel("in"), container.NewGridWrap(size, r.in),
		widget.NewLabel("out"), container.NewGridWrap(size, r.out), remove)
	r.box = container.New(layout.NewCustomPaddedVBoxLayout(0),
		container.NewBorder(nil, nil, nil, prices, r.model), r.err)
	s.overrideRows = append(s.overrideRows, r)
	s.overrides.Add(r.box)
}

// knownModels are the models the engine has seen, for the price overrides.
func (s *settingsWindow) knownModels() []string {
	if s.u.dash == nil {
		return nil
	}
	var ids []string
	for _, m := range s.u.dash.last.Models {
		ids = append(ids, m.ID)
	}
	return ids
}

// kindLabels are the backend kinds as people spell them.
func kindLabels() []string {
	out := make([]string, len(backendKinds))
	for i, k := range backendKinds {
		out[i] = present.BackendName(k)
	}
	return out
}

// kindOf maps a label back to its config kind.
func kindOf(label string) string {
	for _, k := range backendKinds {
		if present.BackendName(k) == label {
			return k
		}
	}
	return label
}

// errorLabels maps every field key, including the rows', to its label.
func (s *settingsWindow) errorLabels() map[string]*widget.Label {
	m := make(map[string]*widget.Label, len(s.fixedErrs)+len(s.serverRows)+2*len(s.overrideRows))
	for k, l := range s.fixedErrs {
		m[k] = l
	}
	for i, r := range s.serverRows {
		m[fmt.Sprintf("backends[%d]", i)] = r.err
	}
	for _, r := range s.overrideRows {
		id := strings.TrimSpace(r.model.Text)
		// config quotes keys that are not bare TOML keys: pricing.models."llama3:8b"
		m[keyOverrides+"."+id] = r.err
		m[keyOverrides+"."+strconv.Quote(id)] = r.err
	}
	return m
}

func (s *settingsWindow) clearErrors() {
	for _, l := range s.errorLabels() {
		showError(l, "")
	}
	showError(s.general, "")
}

// showErrors puts each message next to its field; messages for keys the
// form has no field for are listed beside the Save button.
func (s *settingsWindow) showErrors(errs map[string]string) {
	labels := s.errorLabels()
	known := make([]string, 0, len(labels))
	for k := range labels {
		known = append(known, k)
	}
	byLabel := map[*widget.Label][]string{}
	var orphans []string
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if f := fieldFor(k, known); f != "" {
			byLabel[labels[f]] = append(byLabel[labels[f]], errs[k])
		} else {
			orphans = append(orphans, k+": "+errs[k])
		}
	}
	for l, msgs := range byLabel {
		// config writes messages without their key ("must be a wss://
		// URL"); under the field they start a sentence.
		showError(l, upperFirst(strings.Join(msgs, "; ")))
	}
	if len(orphans) > 0 {
		showError(s.general, strings.Join(orphans, "\n"))
	} else {
		showError(s.general, "Nothing was saved: fix the fields marked in red.")
	}
}

// collect reads the form into an edit for Engine.UpdateConfig, or returns
// the field errors that can be told without the engine: a blank enrollment
// code, amounts and numbers that do not parse. Everything else (URLs,
// ranges) is config validation's to judge.
func (s *settingsWindow) collect() (func(*config.Config), map[string]string) {
	errs := map[string]string{}
	code := strings.TrimSpace(s.code.Text)
	enrolled := s.u.dash != nil && s.u.dash.last.ProviderID != ""
	if code == "" && !enrolled {
		errs[keyCode] = "Paste the enrollment code from your usepod.ai account."
	}
	url := strings.TrimSpace(s.url.Text)
	price := func(key string, e *widget.Entry) int64 {
		v, err := parseUSDC(e.Text)
		if err != nil {
			errs[key] = upperFirst(err.Error()) + "."
		}
		return v
	}
	defIn, defOut := price(keyDefaultIn, s.defIn), price(keyDefaultOut, s.defOut)
	maxConc, err := strconv.Atoi(strings.TrimSpace(s.maxConc.Text))
	if err != nil {
		errs[keyMaxConc] = "Enter a whole number, like 8."
	}

	backends := make([]config.Backend, 0, len(s.serverRows))
	for _, r := range s.serverRows {
		backends = append(backends, config.Backend{
			Kind:   kindOf(r.kind.Selected),
			URL:    strings.TrimSpace(r.url.Text),
			APIKey: strings.TrimSpace(r.apiKey.Text),
			Models: slices.Clone(r.models),
		})
	}

	overrides := map[string]config.ModelPricing{}
	for _, r := range s.overrideRows {
		id := strings.TrimSpace(r.model.Text)
		in, errIn := parseUSDC(r.in.Text)
		out, errOut := parseUSDC(r.out.Text)
		key := keyOverrides + "." + id
		switch {
		case id == "":
			errs[key] = "Choose a model."
		case errIn != nil:
			errs[key] = "Input price: " + errIn.Error()
		case errOut != nil:
			errs[key] = "Output price: " + errOut.Error()
		}
		if _, dup := overrides[id]; dup && id != "" {
			errs[key] = "This model already has a price above."
		}
		overrides[id] = config.ModelPricing{InputPer1M: in, OutputPer1M: out}
	}
	keyring := keyringModes[max(s.keyring.SelectedIndex(), 0)].mode
	login := s.login.Checked
	earning := s.earning.collect(errs)
	if len(errs) > 0 {
		return nil, errs
	}

	// The edit sets only what the form shows, so that what changed in the
	// engine meanwhile (a model switched off from the dashboard) survives.
	edit := func(c *config.Config) {
		if code != "" {
			c.Coordinator.EnrollmentCode = code
		}
		c.Coordinator.URL = url
		c.Backends = backends
		c.Pricing.DefaultInputPer1M = defIn
		c.Pricing.DefaultOutputPer1M = defOut
		c.Pricing.Models = nil
		if len(overrides) > 0 {
			c.Pricing.Models = overrides
		}
		c.Limits.MaxConcurrent = maxConc
		c.Identity.Keyring = keyring
		c.Desktop.LaunchAtLogin = login
		c.Earning = earning
	}
	return edit, nil
}

// onSave validates what it can, then saves off the UI goroutine: first the
// login item (when it changed), then the config; a config the engine
// refuses undoes the login item, so either both change or neither.
func (s *settingsWindow) onSave() {
	s.clearErrors()
	edit, errs := s.collect()
	if errs != nil {
		s.showErrors(errs)
		return
	}
	login := s.login.Checked
	loginChanged := s.u.actions.SetLaunchAtLogin != nil && login != s.base.Desktop.LaunchAtLogin
	s.save.Disable()
	s.u.async(func() {
		if loginChanged {
			if err := s.u.actions.SetLaunchAtLogin(login); err != nil {
				s.u.do(func() {
					s.save.Enable()
					s.showErrors(map[string]string{keyLogin: "Could not change the login item: " + err.Error()})
				})
				return
			}
		}
		err := s.u.eng.UpdateConfig(edit)
		if err != nil && loginChanged {
			_ = s.u.actions.SetLaunchAtLogin(!login) // best effort: the config still says the old value
		}
		s.u.do(func() {
			s.save.Enable()
			if err != nil {
				s.u.log.Info("settings refused", "err", err)
				if fe := fieldErrors(err); len(fe) > 0 {
					s.showErrors(fe)
				} else {
					p := explain.Error(err)
					showError(s.general, "Nothing was saved. "+p.Text(time.Time{})+"\nDetails: "+p.Detail)
				}
				return
			}
			s.win.Close()
		})
	})
}

// onDetect asks the engine which servers answer on the default ports and
// lists the ones that do, each with an Add button.
func (s *settingsWindow) onDetect() {
	s.detectBtn.Disable()
	s.detectResults.Objects = []fyne.CanvasObject{widget.NewLabel("Looking for servers on this computer…")}
	s.detectResults.Refresh()
	s.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
		found := s.u.eng.Detect(ctx)
		cancel()
		s.u.do(func() {
			s.detectBtn.Enable()
			s.showDetected(found)
		})
	})
}

// showDetected lists the answering servers; UI goroutine only.
func (s *settingsWindow) showDetected(found []backend.Health) {
	var objs []fyne.CanvasObject
	var silent []string
	for _, h := range found {
		if !h.Healthy {
			silent = append(silent, present.BackendName(h.Server.Kind)+" ("+present.HostOf(h.Server.URL)+")")
			continue
		}
		b := config.Backend{Kind: h.Server.Kind, URL: h.Server.URL}
		text := fmt.Sprintf("%s at %s — %s", present.BackendName(b.Kind), b.URL, plural(len(h.Models), "model", "models"))
		add := widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), nil)
		add.OnTapped = func() {
			s.addServer(b)
			add.SetText("Added")
			add.Disable()
		}
		if s.hasServer(b.URL) {
			add.SetText("Added")
			add.Disable()
		}
		objs = append(objs, container.NewBorder(nil, nil, widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon())), add, widget.NewLabel(text)))
	}
	if len(objs) == 0 {
		msg := "Nothing answered on the usual ports."
		if len(silent) > 0 {
			msg = "Nothing answered. Tried " + strings.Join(silent, ", ") + "."
		}
		l := widget.NewLabel(msg)
		l.Wrapping = fyne.TextWrapWord
		objs = append(objs, l)
	}
	s.detectResults.Objects = objs
	s.detectResults.Refresh()
}

// hasServer reports whether a URL is in the list already.
func (s *settingsWindow) hasServer(url string) bool {
	for _, r := range s.serverRows {
		if strings.TrimRight(strings.TrimSpace(r.url.Text), "/") == strings.TrimRight(url, "/") {
			return true
		}
	}
	return false
}

// fieldErrors pulls the per-field messages out of an UpdateConfig error:
// config's *ValidationError, or any error with a FieldErrors method. Several
// messages for one key are joined.
func fieldErrors(err error) map[string]string {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		out := make(map[string]string, len(ve.Errors))
		for _, fe := range ve.Errors {
			if prev, ok := out[fe.Key]; ok {
				out[fe.Key] = prev + "; " + fe.Message
			} else {
				out[fe.Key] = fe.Message
			}
		}
		return out
	}
	var fe fieldErrorer
	if errors.As(err, &fe) {
		return fe.FieldErrors()
	}
	return nil
}

// upperFirst capitalises the first letter of a message.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
