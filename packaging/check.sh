#!/bin/sh
# Checks what `make package-linux package-windows` made; `make package-check`
# runs it from the repository root with VERSION, BUILD_NUMBER, DIST, GO and
# SIGNED set. Exits non-zero on the first missing file or on any problem.
set -eu

: "${VERSION:?VERSION is not set}"
DIST=${DIST:-dist}
GO=${GO:-go}
BUILD_NUMBER=${BUILD_NUMBER:-0}
SIGNED=${SIGNED:-}

name=usepod-agent-$VERSION-linux-amd64
tarball=$DIST/$name.tar.xz
exe=$DIST/usepod-agent-$VERSION-windows-amd64.exe
problems=0
bad() {
	echo "package-check: $*" >&2
	problems=$((problems + 1))
}

[ -f "$tarball" ] || { echo "package-check: $tarball is missing: run make package-linux" >&2; exit 1; }
[ -f "$exe" ] || { echo "package-check: $exe is missing: run make package-windows" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- The Linux tarball ----

# Exactly these files, under one top directory.
{
	echo "$name/README.txt"
	echo "$name/ai.usepod.agent.desktop"
	echo "$name/icons/hicolor/256x256/apps/ai.usepod.agent.png"
	echo "$name/icons/hicolor/512x512/apps/ai.usepod.agent.png"
	echo "$name/install.sh"
	echo "$name/usepod-agent"
	[ -f LICENSE ] && echo "$name/LICENSE"
} | LC_ALL=C sort >"$work/want"
tar -tJf "$tarball" | grep -v '/$' | LC_ALL=C sort >"$work/got"
if ! cmp -s "$work/want" "$work/got"; then
	bad "$tarball holds other files than expected:"
	diff "$work/want" "$work/got" >&2 || :
fi

mkdir "$work/x"
tar -C "$work/x" -xJf "$tarball"
dir=$work/x/$name

for f in usepod-agent install.sh; do
	[ -x "$dir/$f" ] || bad "$f is not executable in the tarball"
done

# ELF, 64-bit, x86-64 (e_machine 62 at offset 18).
magic=$(od -An -tx1 -N4 "$dir/usepod-agent" | tr -d ' \n')
class=$(od -An -tu1 -j4 -N1 "$dir/usepod-agent" | tr -d ' \n')
machine=$(od -An -tu2 -j18 -N2 "$dir/usepod-agent" | tr -d ' \n')
[ "$magic" = 7f454c46 ] && [ "$class" = 2 ] && [ "$machine" = 62 ] ||
	bad "usepod-agent is not a 64-bit x86-64 ELF (magic $magic, class $class, machine $machine)"

# The version was stamped in, as the build settings record.
for bin in "$dir/usepod-agent" "$exe"; do
	"$GO" version -m "$bin" | grep -q -- "-X usepod.ai/agent/core/version.Version=$VERSION" ||
		bad "$bin: build settings do not stamp version $VERSION"
done

# It runs here (its libraries resolve) and reports the version.
ran=$(timeout 20 "$dir/usepod-agent" version 2>/dev/null) || :
case $ran in
*" $VERSION") ;;
*) bad "usepod-agent version printed '$ran', want it to end in $VERSION" ;;
esac

command -v desktop-file-validate >/dev/null ||
	{ echo "package-check: desktop-file-validate not found: apt-get install desktop-file-utils" >&2; exit 1; }
out=$(desktop-file-validate "$dir/ai.usepod.agent.desktop" 2>&1) && [ -z "$out" ] ||
	bad "desktop entry does not validate: $out"

# PNG signature, then width and height from IHDR.
for size in 256 512; do
	png=$dir/icons/hicolor/${size}x$size/apps/ai.usepod.agent.png
	sig=$(od -An -tx1 -N8 "$png" | tr -d ' \n')
	dims=$(od -An -tx1 -j16 -N8 "$png" | tr -d ' \n')
	want=$(printf '%08x%08x' "$size" "$size")
	[ "$sig" = 89504e470d0a1a0a ] && [ "$dims" = "$want" ] ||
		bad "$png is not a ${size}x$size PNG"
done

grep -q "Use Pod Agent $VERSION" "$dir/README.txt" || bad "README.txt does not name version $VERSION"

# The install script installs and uninstalls, in a scratch prefix.
prefix=$work/prefix
PREFIX=$prefix sh "$dir/install.sh" >/dev/null
for f in bin/usepod-agent share/applications/ai.usepod.agent.desktop \
	share/icons/hicolor/512x512/apps/ai.usepod.agent.png share/icons/hicolor/256x256/apps/ai.usepod.agent.png; do
	[ -f "$prefix/$f" ] || bad "install.sh did not install $f"
done
grep -qx "Exec=$prefix/bin/usepod-agent" "$prefix/share/applications/ai.usepod.agent.desktop" ||
	bad "installed desktop entry does not run $prefix/bin/usepod-agent"
out=$(desktop-file-validate "$prefix/share/applications/ai.usepod.agent.desktop" 2>&1) && [ -z "$out" ] ||
	bad "installed desktop entry does not validate: $out"
PREFIX=$prefix sh "$dir/install.sh" --uninstall >/dev/null
left=$(find "$prefix" -type f)
[ -z "$left" ] || bad "install.sh --uninstall left: $left"

# ---- The Windows .exe ----

abs_exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
"$GO" test -count=1 -tags pecheck -run '^TestExe$' ./packaging/pecheck -args \
	-exe="$abs_exe" -version="$VERSION" -build="$BUILD_NUMBER" ${SIGNED:+-signed} ||
	bad "$exe fails the PE checks (above)"

if [ "$problems" -gt 0 ]; then
	echo "package-check: $problems problem(s)" >&2
	exit 1
fi
echo "package-check: $tarball and $exe look right"
