package autostart

import (
	"bytes"
	"strings"
)

// desktopMarker is the line that makes an autostart file ours.
const desktopMarker = "X-UsePod-Agent-Autostart=true"

// DesktopEntry renders the XDG autostart file that starts exe with args
// (freedesktop Desktop Entry Specification 1.5).
func DesktopEntry(exe string, args []string) []byte {
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Use Pod Agent\n")
	b.WriteString("Comment=Start Use Pod Agent when you log in\n")
	b.WriteString("Icon=" + ID + "\n")
	b.WriteString("TryExec=" + escapeString(exe) + "\n")
	b.WriteString("Exec=" + desktopExec(exe, args) + "\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	b.WriteString(desktopMarker + "\n")
	return b.Bytes()
}

// desktopExec renders an Exec value: each argument quoted where the spec
// reserves a character, % doubled, then the string-value escapes applied on
// top (so one backslash in an argument is four in the file).
func desktopExec(exe string, args []string) string {
	words := make([]string, 0, 1+len(args))
	for _, a := range append([]string{exe}, args...) {
		words = append(words, quoteExecArg(a))
	}
	return escapeString(strings.Join(words, " "))
}

// execReserved are the characters that force an Exec argument into quotes.
const execReserved = " \t\n\"'\\><~|&;$*?#()`"

func quoteExecArg(a string) string {
	a = strings.ReplaceAll(a, "%", "%%")
	if a != "" && !strings.ContainsAny(a, execReserved) {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range a {
		if strings.ContainsRune("\"`$\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// escapeString applies the escapes of a Desktop Entry string value.
func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}
