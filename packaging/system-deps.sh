#!/usr/bin/env bash
# Installs the system packages Engram needs on Debian/Ubuntu: tesseract (OCR), Qt's xcb
# libraries (the window), Xvfb + a tray host (tests), gnome-keyring + D-Bus (real keyring
# test). As root it runs apt-get; with passwordless sudo it uses sudo; otherwise it prints
# the exact command and carries on (tests that need a missing piece skip and say why).
set -u
PKGS="tesseract-ocr tesseract-ocr-eng xvfb xauth x11-utils xdotool trayer \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-randr0 \
libxcb-render-util0 libxcb-image0 libxcb-shape0 libxkbcommon-x11-0 libegl1 libgl1 \
libfontconfig1 libdbus-1-3 fonts-dejavu-core gnome-keyring dbus-daemon dbus-user-session"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "engram: not a Debian/Ubuntu system; install the equivalents of:$missing" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo"; else
  echo "engram: these system packages are missing and I cannot install them (no root, no sudo):" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
  || echo "engram: apt-get install failed for:$missing" >&2
exit 0
