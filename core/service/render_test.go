package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"usepod.ai/agent/packaging/plistcheck"
)

// unitKeys parses a unit file into section.key -> values, failing on
// anything that is not a comment, a section header or key=value.
func unitKeys(t *testing.T, unit []byte) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	section := ""
	for i, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("line %d is not key=value in a section: %q", i+1, line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// splitExec undoes systemdQuote the way systemd reads ExecStart: words split
// on space, double quotes with C escapes, then $$ and %% unescaped.
func splitExec(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		if s[i] == '"' {
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
					switch s[i] {
					case 't':
						w.WriteByte('\t')
					case '"', '\\':
						w.WriteByte(s[i])
					default:
						t.Fatalf("unknown escape \\%c in %q", s[i], s)
					}
					continue
				}
				w.WriteByte(s[i])
			}
			if i == len(s) {
				t.Fatalf("unterminated quote in %q", s)
			}
			i++
		} else {
			for ; i < len(s) && s[i] != ' '; i++ {
				if strings.ContainsRune("\"'\\;", rune(s[i])) {
					t.Fatalf("unquoted %q in %q", s[i], s)
				}
				w.WriteByte(s[i])
			}
		}
		word := w.String()
		for _, c := range []string{"%", "$"} {
			if strings.Count(word, c)%2 != 0 {
				t.Fatalf("unescaped %s in %q", c, word)
			}
			word = strings.ReplaceAll(word, c+c, c)
		}
		words = append(words, word)
	}
	return words
}

func TestRenderLinux(t *testing.T) {
	o := Options{Exe: "/usr/local/bin/usepod-agent"}
	name, unit, err := Render("linux", o)
	if err != nil {
		t.Fatal(err)
	}
	if name != "/etc/systemd/system/usepod-agent.service" {
		t.Errorf("filename = %q", name)
	}
	keys := unitKeys(t, unit)
	want := map[string]string{
		"Service.User":                 "usepod-agent",
		"Service.ExecStart":            "/usr/local/bin/usepod-agent --config /etc/usepod-agent/agent.toml --data-dir /var/lib/usepod-agent run --headless --keyring file --api /run/usepod-agent/agent.sock --api-group usepod-agent",
		"Service.RuntimeDirectory":     "usepod-agent",
		"Service.RuntimeDirectoryMode": "0750",
		"Service.ProtectSystem":        "strict",
		"Service.ProtectHome":          "true",
		"Service.NoNewPrivileges":      "true",
		"Service.PrivateTmp":           "true",
		"Service.ReadWritePaths":       "/var/lib/usepod-agent",
		"Service.StateDirectory":       "usepod-agent",
		"Service.Restart":              "on-failure",
		"Install.WantedBy":             "multi-user.target",
	}
	for k, v := range want {
		if got := keys[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	if _, ok := keys["Service.DynamicUser"]; ok {
		t.Error("DynamicUser set: the key would not persist")
	}
	if !bytes.HasPrefix(unit, []byte(unitMarker+"\n")) {
		t.Error("unit does not start with the marker")
	}
}

func TestRenderCarriesPaths(t *testing.T) {
	o := Options{
		Exe:     "/opt/use pod/usepod-agent",
		Config:  `/etc/odd "dir"/50%/agent$1.toml`,
		DataDir: `/srv/pod\data;x`,
		User:    "gpu",
	}
	_, unit, err := Render("linux", o)
	if err != nil {
		t.Fatal(err)
	}
	keys := unitKeys(t, unit)
	if got := splitExec(t, keys["Service.ExecStart"][0]); !reflect.DeepEqual(got, o.withDefaults("linux").Command()) {
		t.Errorf("ExecStart reads back as %q, want %q", got, o.withDefaults("linux").Command())
	}
	if got := splitExec(t, keys["Service.ReadWritePaths"][0]); !reflect.DeepEqual(got, []string{o.DataDir}) {
		t.Errorf("ReadWritePaths reads back as %q", got)
	}
	if keys["Service.User"][0] != "gpu" {
		t.Errorf("User = %q", keys["Service.User"])
	}
}

func TestRenderRejects(t *testing.T) {
	for _, tc := range []struct {
		goos string
		o    Options
		want string
	}{
		{"linux", Options{Exe: "usepod-agent"}, "not an absolute path"},
		{"linux", Options{Exe: "/home/ada/.local/bin/usepod-agent"}, "ProtectHome"},
		{"linux", Options{Exe: "/usr/bin/usepod-agent", Config: "/root/agent.toml"}, "ProtectHome"},
		{"linux", Options{Exe: "/usr/bin/usepod-agent", DataDir: "/home"}, "ProtectHome"},
		{"linux", Options{Exe: "/usr/bin/usepod-agent", DataDir: "/var/lib/x\ny"}, "control character"},
		{"darwin", Options{Exe: "relative/usepod-agent"}, "not an absolute path"},
		{"windows", Options{Exe: "/usr/bin/usepod-agent.exe"}, "not an absolute path"},
		{"plan9", Options{Exe: "/bin/usepod-agent"}, "unsupported"},
	} {
		_, _, err := Render(tc.goos, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Render(%s, %+v) = %v, want an error about %q", tc.goos, tc.o, err, tc.want)
		}
	}
	// Home is fine for the launchd daemon, which has no ProtectHome.
	if _, _, err := Render("darwin", Options{Exe: "/Users/ada/bin/usepod-agent"}); err != nil {
		t.Errorf("darwin: %v", err)
	}
}

// TestSystemdVerify hands the unit to systemd's own checker where there is
// one. It checks ExecStart names an executable, so the test's own binary
// stands in for the agent.
func TestSystemdVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install the systemd package (make deps does)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	verify := func(unit []byte) (string, error) {
		path := filepath.Join(dir, Unit)
		if err := os.WriteFile(path, unit, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, "verify", "--man=no", path).CombinedOutput()
		return string(out), err
	}
	_, unit, err := Render("linux", Options{Exe: exe, Config: "/etc/use pod/agent.toml", DataDir: "/srv/pod%data"})
	if err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on warnings such as unknown keys, so any output fails.
	if out, err := verify(unit); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, out, unit)
	}
	// And it can fail: a typo in a key is reported.
	bad := bytes.Replace(unit, []byte("ProtectHome="), []byte("ProtectHomme="), 1)
	if out, _ := verify(bad); !strings.Contains(out, "ProtectHomme") {
		t.Errorf("systemd-analyze verify did not report a misspelt key: %q", out)
	}
}

func TestRenderDarwin(t *testing.T) {
	o := Options{Exe: "/Applications/Use Pod Agent.app/Contents/MacOS/usepod-agent", User: "_usepod"}
	name, b, err := Render("darwin", o)
	if err != nil {
		t.Fatal(err)
	}
	if name != "/Library/LaunchDaemons/ai.usepod.agent.plist" {
		t.Errorf("filename = %q", name)
	}
	m, err := plistcheck.Dict(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if err := plistcheck.Require(m, map[string]any{
		"Label": "", "ProgramArguments": []any{}, "RunAtLoad": true, "KeepAlive": map[string]any{},
		"UserName": "", "WorkingDirectory": "",
	}); err != nil {
		t.Fatal(err)
	}
	o = o.withDefaults("darwin")
	var args []string
	for _, a := range m["ProgramArguments"].([]any) {
		args = append(args, a.(string))
	}
	if !reflect.DeepEqual(args, o.Command()) {
		t.Errorf("ProgramArguments = %q, want %q", args, o.Command())
	}
	if m["Label"] != Label || m["RunAtLoad"] != true || m["UserName"] != "_usepod" || m["WorkingDirectory"] != o.DataDir {
		t.Errorf("plist = %v", m)
	}
	if ka := m["KeepAlive"].(map[string]any); ka["SuccessfulExit"] != false {
		t.Errorf("KeepAlive = %v, want restart on failure only", ka)
	}
	// Without a user the daemon runs as root: no UserName key.
	_, b, _ = Render("darwin", Options{Exe: "/usr/local/bin/usepod-agent"})
	if m, err := plistcheck.Dict(bytes.NewReader(b)); err != nil || m["UserName"] != nil {
		t.Errorf("no user: UserName = %v, %v", m["UserName"], err)
	}
}

// argvW splits a command line the way CommandLineToArgvW does (post-2008
// rules), to read back what Render writes for Windows.
func argvW(s string) []string {
	var args []string
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		var w strings.Builder
		inQuote := false
		for ; i < len(s) && (inQuote || (s[i] != ' ' && s[i] != '\t')); i++ {
			switch {
			case s[i] == '\\':
				n := 0
				for i < len(s) && s[i] == '\\' {
					n++
					i++
				}
				if i < len(s) && s[i] == '"' {
					w.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						w.WriteByte('"')
						continue
					}
				} else {
					w.WriteString(strings.Repeat(`\`, n))
				}
				i--
			case s[i] == '"':
				if inQuote && i+1 < len(s) && s[i+1] == '"' {
					w.WriteByte('"')
					i++
					continue
				}
				inQuote = !inQuote
			default:
				w.WriteByte(s[i])
			}
		}
		args = append(args, w.String())
	}
	return args
}

func TestRenderWindows(t *testing.T) {
	o := Options{Exe: `C:\Program Files\Use Pod Agent\usepod-agent.exe`, DataDir: `D:\pod data\`, Config: `C:\x\"q".toml`}
	name, b, err := Render("windows", o)
	if err != nil {
		t.Fatal(err)
	}
	if name != `HKLM\SYSTEM\CurrentControlSet\Services\UsePodAgent` {
		t.Errorf("name = %q", name)
	}
	want := `"C:\Program Files\Use Pod Agent\usepod-agent.exe" --config C:\x\\\"q\".toml --data-dir "D:\pod data\\" run --headless --keyring file --api \\.\pipe\usepod-agent-service`
	if string(b) != want {
		t.Errorf("command line\n%s\nwant\n%s", b, want)
	}
	if got := argvW(string(b)); !reflect.DeepEqual(got, o.withDefaults("windows").Command()) {
		t.Errorf("command line reads back as %q, want %q", got, o.withDefaults("windows").Command())
	}
	// Defaults.
	_, b, _ = Render("windows", Options{Exe: `C:\usepod-agent.exe`})
	if !strings.Contains(string(b), `--data-dir C:\ProgramData\UsePodAgent `) {
		t.Errorf("default data dir missing: %s", b)
	}
}
