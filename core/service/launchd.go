package service

import (
	"bytes"
	"encoding/xml"
)

// plistMarker is the comment that marks a daemon plist Install wrote.
const plistMarker = "<!-- Written by `usepod-agent service install`; `usepod-agent service uninstall` removes it. -->"

// launchdPlist renders the system daemon: started at boot, restarted when
// it exits with an error, logging to /Library/Logs.
func launchdPlist(o Options) []byte {
	var b bytes.Buffer
	str := func(s string) {
		b.WriteString("<string>")
		_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer does not fail
		b.WriteString("</string>\n")
	}
	key := func(k string) { b.WriteString("\t<key>" + k + "</key>\n\t") }

	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(plistMarker + "\n")
	b.WriteString("<plist version=\"1.0\">\n<dict>\n")
	key("Label")
	str(Label)
	key("ProgramArguments")
	b.WriteString("<array>\n")
	for _, a := range o.Command() {
		b.WriteString("\t\t")
		str(a)
	}
	b.WriteString("\t</array>\n")
	if o.User != "" {
		key("UserName")
		str(o.User)
	}
	key("WorkingDirectory")
	str(o.DataDir)
	key("RunAtLoad")
	b.WriteString("<true/>\n")
	key("KeepAlive")
	b.WriteString("<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
	key("Umask")
	b.WriteString("<integer>63</integer>\n") // 0077
	key("StandardOutPath")
	str("/Library/Logs/usepod-agent.log")
	key("StandardErrorPath")
	str("/Library/Logs/usepod-agent.log")
	b.WriteString("</dict>\n</plist>\n")
	return b.Bytes()
}
