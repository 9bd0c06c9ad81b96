package ui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// cliAgentDir is where the command-line agent keeps agent.toml and
// identity.key by default (docs/protocol.md section 9).
const cliAgentDir = "~/.usepod-agent"

// expandHome turns a leading "~/" into the home folder, as people type it.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// importDialog asks for the command-line agent's agent.toml and
// identity.key and hands them to Actions.Import.
type importDialog struct {
	toml, key *widget.Entry
	status    *widget.Label
	run       *widget.Button
	d         *dialog.CustomDialog
	confirm   *dialog.ConfirmDialog // "replace this computer's identity?", once asked
	done      dialog.Dialog         // the success message, once shown
}

// showImport opens the import dialog. Either file may be left out; the
// form is reloaded from the engine afterwards, as the import changes the
// config.
func (s *settingsWindow) showImport() { s.newImportDialog().d.Show() }

func (s *settingsWindow) newImportDialog() *importDialog {
	im := &importDialog{toml: widget.NewEntry(), key: widget.NewEntry(), status: errorLabel()}
	im.toml.SetPlaceHolder(cliAgentDir + "/agent.toml")
	im.key.SetPlaceHolder(cliAgentDir + "/identity.key")

	content := container.NewVBox(
		widget.NewLabel("Bring over the command-line agent's settings and provider identity,\nso this computer keeps its provider ID."),
		s.pickRow("agent.toml", im.toml, []string{".toml"}),
		s.pickRow("identity.key", im.key, nil),
		im.status,
	)
	im.run = widget.NewButton("Import", func() { s.runImport(im) })
	im.run.Importance = widget.HighImportance
	im.d = dialog.NewCustomWithoutButtons("Import from the command-line agent", content, s.win)
	im.d.SetButtons([]fyne.CanvasObject{widget.NewButton("Cancel", im.d.Hide), im.run})
	im.d.Resize(fyne.NewSize(620, 0))
	return im
}

// runImport calls Actions.Import off the UI goroutine. When this computer
// already has a different identity, it asks before replacing it, saying
// what would be lost.
func (s *settingsWindow) runImport(im *importDialog) {
	toml, key := expandHome(strings.TrimSpace(im.toml.Text)), expandHome(strings.TrimSpace(im.key.Text))
	if toml == "" && key == "" {
		showError(im.status, "Choose agent.toml, identity.key or both.")
		return
	}
	s.importFiles(im, toml, key, false)
}

func (s *settingsWindow) importFiles(im *importDialog, toml, key string, replace bool) {
	im.run.Disable()
	showError(im.status, "")
	s.u.async(func() {
		providerID, err := s.u.actions.Import(toml, key, replace)
		s.u.do(func() {
			im.run.Enable()
			var conflict *ImportConflict
			switch {
			case errors.As(err, &conflict):
				im.confirm = dialog.NewConfirm("Replace this computer's identity?", conflict.Explanation+"\n\nReplace it with the command-line agent's identity?", func(yes bool) {
					if yes {
						s.importFiles(im, toml, key, true)
					}
				}, s.win)
				im.confirm.SetConfirmText("Replace")
				im.confirm.SetDismissText("Keep this one")
				im.confirm.Show()
			case err != nil:
				s.u.log.Warn("import", "err", err)
				showError(im.status, "Nothing was imported: "+err.Error())
			default:
				im.d.Hide()
				s.load(s.u.eng.Config())
				msg := "The command-line agent's settings and identity are now this agent's."
				if providerID != "" {
					msg += "\n\nThis computer now earns as provider " + providerID + "."
				}
				im.done = dialog.NewInformation("Imported", msg, s.win)
				im.done.Show()
			}
		})
	})
}

// pickRow is a path entry with a file picker.
func (s *settingsWindow) pickRow(label string, path *widget.Entry, exts []string) fyne.CanvasObject {
	choose := widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), func() {
		fd := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			path.SetText(r.URI().Path())
			_ = r.Close()
		}, s.win)
		if len(exts) > 0 {
			fd.SetFilter(storage.NewExtensionFileFilter(exts))
		}
		if dir, err := storage.ListerForURI(storage.NewFileURI(expandHome(cliAgentDir))); err == nil {
			fd.SetLocation(dir) // start where the command-line agent keeps its files
		}
		fd.Show()
	})
	l := widget.NewLabel(label)
	return container.NewBorder(nil, nil, container.NewStack(fixedSize(100, 0), l), choose, path)
}
