#!/usr/bin/env bash
# Makes a wine prefix that can run the packaged .exe by hand, the way
# `make test-windows` makes its own: wineboot, then the test-only
# bcryptprimitives.dll stand-in (packaging/winetest/standin says why) built
# into its system32. For tests under wine only; never for a user's prefix.
#
#   packaging/scripts/wine-prefix.sh /tmp/usepod-wine
#   WINEPREFIX=/tmp/usepod-wine WINEDEBUG=-all wine dist/usepod-agent-*-windows-amd64.exe version
set -euo pipefail
prefix=${1:?usage: $0 PREFIX_DIR (a new folder, not your own wine prefix)}
src="$(cd "$(dirname "$0")/../winetest/standin" && pwd)"
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
if [ "$prefix" = "${HOME}/.wine" ] || [ "$prefix" = "${HOME}/.wine/" ]; then
  echo "wine-prefix: refusing to change your own wine prefix ($prefix)" >&2
  exit 1
fi
mkdir -p "$prefix"
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wineboot --init >/dev/null 2>&1
wineserver --wait
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" \
  "$src/bcryptprimitives.c" "$src/bcryptprimitives.def" -ladvapi32
echo "wine-prefix: $prefix is ready (WINEPREFIX=$prefix WINEDEBUG=-all wine <the .exe> ...)"
