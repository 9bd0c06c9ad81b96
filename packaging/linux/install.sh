#!/bin/sh
# Installs Use Pod Agent for the current user, or removes it again.
#
#   ./install.sh               install into ~/.local
#   ./install.sh --uninstall   remove what install put there
#
# PREFIX moves it: `sudo PREFIX=/usr/local ./install.sh` installs for everyone.
# Settings and the identity key (~/.config/usepod-agent and the data dir) are
# never touched.
set -eu

prefix=${PREFIX:-$HOME/.local}
id=ai.usepod.agent
bin=$prefix/bin/usepod-agent
desktop=$prefix/share/applications/$id.desktop
icons=$prefix/share/icons/hicolor
here=$(cd "$(dirname "$0")" && pwd)

refresh() {
	# Menus watch these directories; only an icon cache that already exists
	# needs refreshing (creating one could hide other apps' later icons).
	if [ -f "$icons/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
		gtk-update-icon-cache -q -t "$icons" 2>/dev/null || :
	fi
}

case "${1:-}" in
--uninstall)
	rm -f "$bin" "$desktop" "$icons/256x256/apps/$id.png" "$icons/512x512/apps/$id.png"
	refresh
	echo "Removed Use Pod Agent from $prefix."
	exit 0
	;;
"") ;;
*)
	echo "usage: $0 [--uninstall]" >&2
	exit 2
	;;
esac

install -d "$prefix/bin" "$prefix/share/applications" "$icons/256x256/apps" "$icons/512x512/apps"
install -m 0755 "$here/usepod-agent" "$bin"
install -m 0644 "$here/icons/hicolor/256x256/apps/$id.png" "$icons/256x256/apps/$id.png"
install -m 0644 "$here/icons/hicolor/512x512/apps/$id.png" "$icons/512x512/apps/$id.png"

# Point the menu entry at the installed binary: ~/.local/bin is often not on
# the PATH a desktop session starts programs with. A path with characters
# the Exec key reserves is quoted; one with characters it would need escaped
# keeps the bare name instead.
tryexec=$bin
case $bin in
*[\"\`\$\\%]*) exec_line=usepod-agent tryexec=usepod-agent ;;
*[[:space:]\'\<\>~\|\&\;\*\?\#\(\)]*) exec_line="\"$bin\"" ;;
*) exec_line=$bin ;;
esac
sed_escape() { printf '%s' "$1" | sed 's/[&|\\]/\\&/g'; }
tmp=$desktop.tmp
sed -e "s|^Exec=.*|Exec=$(sed_escape "$exec_line")|" \
	-e "s|^TryExec=.*|TryExec=$(sed_escape "$tryexec")|" \
	"$here/$id.desktop" >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$desktop"
refresh

echo "Installed Use Pod Agent into $prefix."
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*) echo "Note: $prefix/bin is not on your PATH; the app menu entry works regardless." ;;
esac
