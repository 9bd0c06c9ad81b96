#!/usr/bin/env bash
# Installs the system packages the build and the tests need, on Debian or
# Ubuntu, when any is missing. Elsewhere it says what to install.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc pkg-config libgl1-mesa-dev xorg-dev xvfb xauth dbus dbus-x11 gnome-keyring imagemagick x11-utils desktop-file-utils gcc-mingw-w64-x86-64 xz-utils systemd wine wine64 fonts-wine xdotool shellcheck; do
  have_pkg "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Please install: OpenGL and X11 development headers, Xvfb, D-Bus, GNOME Keyring, ImageMagick, desktop-file-utils, the mingw-w64 compiler, wine (64-bit) and xdotool" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "Installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
