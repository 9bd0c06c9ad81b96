package notify

import (
	"encoding/base64"
	"unicode/utf16"
)

// Windows has no cgo-free API for toasts: they are WinRT calls. Like
// Fyne's app_windows.go we let Windows PowerShell 5.1 (part of every
// Windows 10 and 11) make them, in a hidden process, rather than add a
// library: the toast libraries for Go (go-toast and its forks) run the very
// same PowerShell script, with less care for quoting. Two things differ from
// Fyne's script:
//
//   - The title and body travel in environment variables, not spliced into
//     the script, so no text a server or user wrote can escape its string.
//     The script is passed with -EncodedCommand, so no temporary file.
//   - Toasts of an unpackaged app are shown only for a registered
//     AppUserModelID. Without an installer making a Start-menu shortcut, the
//     script registers ours under HKCU\Software\Classes\AppUserModelId (the
//     way the Windows Community Toolkit does for unpackaged apps), with the
//     app's name and icon, so the toast says "Use Pod Agent".
//
// It lives in a file without a build constraint so that its encoding is
// tested on every system; only Windows runs it, and no test here does (no
// Windows machine).
const toastScript = `$ErrorActionPreference = 'Stop'
$appId = 'ai.usepod.agent'
$key = 'HKCU:\Software\Classes\AppUserModelId\' + $appId
if (-not (Test-Path $key)) { New-Item -Path $key -Force | Out-Null }
Set-ItemProperty -Path $key -Name DisplayName -Value 'Use Pod Agent'
if ($env:USEPOD_TOAST_ICON) { Set-ItemProperty -Path $key -Name IconUri -Value $env:USEPOD_TOAST_ICON }
[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] | Out-Null
$xml = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)
$text = $xml.GetElementsByTagName('text')
$text.Item(0).AppendChild($xml.CreateTextNode($env:USEPOD_TOAST_TITLE)) | Out-Null
$text.Item(1).AppendChild($xml.CreateTextNode($env:USEPOD_TOAST_BODY)) | Out-Null
$toast = [Windows.UI.Notifications.ToastNotification]::new($xml)
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($appId).Show($toast)
`

// encodeCommand is PowerShell's -EncodedCommand form: base64 of UTF-16LE.
func encodeCommand(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}
