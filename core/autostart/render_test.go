package autostart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"usepod.ai/agent/packaging/plistcheck"
)

// Arguments that exercise every quoting rule.
var nastyArgs = []string{
	"--minimized",
	"",
	"two words",
	`back\slash`,
	`quote"d`,
	"dollar$HOME",
	"`tick`",
	"100%",
	"%f",
	"semi;colon",
	"tab\there",
	"new\nline",
	"ünïcödé",
	"'single'",
}

// parseExec undoes DesktopEntry's Exec value the way the spec says a
// launcher reads it: string escapes, then quoting, then %% to %.
func parseExec(t *testing.T, value string) []string {
	t.Helper()
	// String-value escapes.
	var s strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '\\' {
			s.WriteByte(c)
			continue
		}
		i++
		if i == len(value) {
			t.Fatalf("Exec ends in a lone backslash: %q", value)
		}
		switch value[i] {
		case '\\':
			s.WriteByte('\\')
		case 'n':
			s.WriteByte('\n')
		case 't':
			s.WriteByte('\t')
		case 'r':
			s.WriteByte('\r')
		case 's':
			s.WriteByte(' ')
		default:
			t.Fatalf("Exec has an invalid string escape \\%c: %q", value[i], value)
		}
	}
	// Quoting.
	var args []string
	in := []rune(s.String())
	for i := 0; i < len(in); {
		if in[i] == ' ' {
			i++
			continue
		}
		var arg strings.Builder
		if in[i] == '"' {
			i++
			for ; i < len(in) && in[i] != '"'; i++ {
				if in[i] == '\\' {
					i++
					if i == len(in) || !strings.ContainsRune("\"`$\\", in[i]) {
						t.Fatalf("bad escape inside quotes in %q", s.String())
					}
				}
				arg.WriteRune(in[i])
			}
			if i == len(in) {
				t.Fatalf("unterminated quote in %q", s.String())
			}
			i++ // closing quote
			if i < len(in) && in[i] != ' ' {
				t.Fatalf("quoted argument runs into text in %q", s.String())
			}
		} else {
			for ; i < len(in) && in[i] != ' '; i++ {
				if strings.ContainsRune(execReserved, in[i]) {
					t.Fatalf("unquoted reserved character %q in %q", in[i], s.String())
				}
				arg.WriteRune(in[i])
			}
		}
		// Field codes: only %% may appear, and stands for %.
		a := arg.String()
		for j := 0; j < len(a); j++ {
			if a[j] == '%' {
				if j+1 == len(a) || a[j+1] != '%' {
					t.Fatalf("stray field code in %q", a)
				}
				j++
			}
		}
		args = append(args, strings.ReplaceAll(a, "%%", "%"))
	}
	return args
}

func keyValue(t *testing.T, entry []byte, key string) string {
	t.Helper()
	for _, line := range strings.Split(string(entry), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= line in:\n%s", key, entry)
	return ""
}

func TestDesktopEntryExecRoundTrip(t *testing.T) {
	exe := "/opt/Use Pod/usepod-agent"
	entry := DesktopEntry(exe, nastyArgs)
	got := parseExec(t, keyValue(t, entry, "Exec"))
	want := append([]string{exe}, nastyArgs...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Exec parses to\n%q\nwant\n%q", got, want)
	}
	// One backslash in an argument is four in the file, as the spec says.
	if !strings.Contains(keyValue(t, entry, "Exec"), `"back\\\\slash"`) {
		t.Errorf("backslash not escaped twice: %s", keyValue(t, entry, "Exec"))
	}
}

func TestDesktopEntryPlain(t *testing.T) {
	entry := string(DesktopEntry("/usr/bin/usepod-agent", []string{"--minimized"}))
	for _, line := range []string{
		"[Desktop Entry]",
		"Type=Application",
		"Exec=/usr/bin/usepod-agent --minimized",
		"X-GNOME-Autostart-enabled=true",
		desktopMarker,
	} {
		if !strings.Contains(entry, line+"\n") {
			t.Errorf("entry lacks %q:\n%s", line, entry)
		}
	}
}

// TestDesktopEntryValidates runs desktop-file-validate, which CI installs:
// a missing tool fails the test rather than skipping it.
func TestDesktopEntryValidates(t *testing.T) {
	tool, err := exec.LookPath("desktop-file-validate")
	if err != nil {
		t.Fatal("desktop-file-validate not found: install desktop-file-utils (apt-get install desktop-file-utils)")
	}
	for name, args := range map[string][]string{
		"plain": {"--minimized"},
		"none":  nil,
		"nasty": nastyArgs,
	} {
		path := filepath.Join(t.TempDir(), ID+".desktop")
		if err := os.WriteFile(path, DesktopEntry("/opt/Use Pod/usepod-agent", args), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%s: desktop-file-validate: %v\n%s", name, err, out)
		}
	}
}

// The validator must be able to fail, or the test above proves nothing.
func TestDesktopValidatorCatchesErrors(t *testing.T) {
	tool, err := exec.LookPath("desktop-file-validate")
	if err != nil {
		t.Fatal("desktop-file-validate not found: install desktop-file-utils")
	}
	bad := bytes.Replace(DesktopEntry("/usr/bin/usepod-agent", nil), []byte("Type=Application\n"), nil, 1)
	path := filepath.Join(t.TempDir(), ID+".desktop")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, path).CombinedOutput(); err == nil {
		t.Errorf("desktop-file-validate accepted an entry without Type:\n%s", out)
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	exe := "/Applications/Use Pod Agent.app/Contents/MacOS/usepod-agent"
	args := []string{"--minimized", "a<b>&c", `"q"`, ""}
	b := LaunchAgentPlist(exe, args)
	m, err := plistcheck.Dict(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if err := plistcheck.Require(m, map[string]any{
		"Label": "", "ProgramArguments": []any{}, "RunAtLoad": true,
	}); err != nil {
		t.Fatal(err)
	}
	if m["Label"] != ID || m["RunAtLoad"] != true {
		t.Errorf("Label = %v, RunAtLoad = %v", m["Label"], m["RunAtLoad"])
	}
	if _, ok := m["KeepAlive"]; ok {
		t.Error("KeepAlive set: quitting the app would not keep it quit")
	}
	var got []string
	for _, a := range m["ProgramArguments"].([]any) {
		got = append(got, a.(string))
	}
	if want := append([]string{exe}, args...); !reflect.DeepEqual(got, want) {
		t.Errorf("ProgramArguments = %q, want %q", got, want)
	}
	if !bytes.Contains(b, []byte(plistMarker)) {
		t.Error("plist lacks the marker")
	}
}

func TestCheckCommand(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		args []string
		ok   bool
	}{
		{"/usr/bin/usepod-agent", nil, true},
		{"usepod-agent", nil, false},
		{"./usepod-agent", nil, false},
		{"/usr/bin/usepod-agent", []string{"a\x00b"}, false},
	} {
		if err := checkCommand(tc.exe, tc.args); (err == nil) != tc.ok {
			t.Errorf("checkCommand(%q, %q) = %v, want ok %v", tc.exe, tc.args, err, tc.ok)
		}
	}
}

func ExampleDesktopEntry() {
	fmt.Print(string(DesktopEntry("/home/ada/.local/bin/usepod-agent", []string{"--minimized"})))
	// Output:
	// [Desktop Entry]
	// Type=Application
	// Name=Use Pod Agent
	// Comment=Start Use Pod Agent when you log in
	// Icon=ai.usepod.agent
	// TryExec=/home/ada/.local/bin/usepod-agent
	// Exec=/home/ada/.local/bin/usepod-agent --minimized
	// Terminal=false
	// X-GNOME-Autostart-enabled=true
	// X-UsePod-Agent-Autostart=true
}
