#!/usr/bin/env bash
# Builds the one-folder app into dist/engram/ (run dist/engram/engram). Needs PyInstaller in
# the venv: .venv/bin/pip install -e ".[package]" (or: pip install pyinstaller).
# PYTHON picks the interpreter (default .venv/bin/python); DIST and WORK the output dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DIST="${DIST:-dist}"
WORK="${WORK:-build/pyinstaller}"

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build.sh: PyInstaller is missing: $PYTHON -m pip install pyinstaller" >&2
  exit 2
fi
if [ ! -f assets/icons/png/engram-256.png ]; then
  QT_QPA_PLATFORM=offscreen "$PYTHON" packaging/render_icons.py
fi

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/engram.spec
end=$(date +%s)
echo "build.sh: built $DIST/engram in $((end - start)) s, $(du -sh "$DIST/engram" | cut -f1)"
echo "build.sh: try it: $DIST/engram/engram --version && $DIST/engram/engram doctor"
