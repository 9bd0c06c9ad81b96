package service

import (
	"bytes"
	"fmt"
	"strings"
)

// unitMarker is the first line of a unit Install wrote.
const unitMarker = "# Written by `usepod-agent service install`; `usepod-agent service uninstall` removes it."

// systemdUnit renders the hardened system unit. The key must persist, so
// the service runs as a real system user rather than DynamicUser.
func systemdUnit(o Options) []byte {
	words := make([]string, 0, 10)
	for _, a := range o.Command() {
		words = append(words, systemdQuote(a))
	}
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("%s", unitMarker)
	line("[Unit]")
	line("Description=Use Pod Agent (headless)")
	line("Documentation=https://usepod.ai")
	line("Wants=network-online.target")
	line("After=network-online.target")
	line("")
	line("[Service]")
	line("Type=simple")
	line("User=%s", systemdValue(o.User))
	line("ExecStart=%s", strings.Join(words, " "))
	line("Restart=on-failure")
	line("RestartSec=5s")
	line("StateDirectory=usepod-agent")
	line("StateDirectoryMode=0700")
	// The local API's socket lives here; members of the API group may
	// reach it (`usepod-agent status`, the desktop app).
	line("RuntimeDirectory=usepod-agent")
	line("RuntimeDirectoryMode=0750")
	line("ReadWritePaths=%s", systemdQuote(o.DataDir))
	line("UMask=0077")
	line("NoNewPrivileges=true")
	line("ProtectSystem=strict")
	line("ProtectHome=true")
	line("PrivateTmp=true")
	line("ProtectKernelTunables=true")
	line("ProtectKernelModules=true")
	line("ProtectControlGroups=true")
	line("RestrictSUIDSGID=true")
	line("LockPersonality=true")
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.Bytes()
}

// systemdValue escapes the specifiers (%) and variables ($) systemd would
// otherwise expand in a setting's value.
func systemdValue(s string) string {
	return strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
}

// systemdQuote renders one word of ExecStart or a path list: specifiers and
// variables escaped, and double quotes with C escapes around anything that
// holds space, quotes, a backslash or a semicolon.
func systemdQuote(s string) string {
	s = systemdValue(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
