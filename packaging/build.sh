#!/usr/bin/env bash
# Build the onedir bundle (seal-desktop + seal) with PyInstaller, self-test it, report its size.
#
#   packaging/build.sh            # uses .venv/bin/python (or $PYTHON)
#   PYTHON=python3 packaging/build.sh --clean
#
# Output: packaging/dist/seal-sticker-studio/ (work files in packaging/build/; both git-ignored).
# Linux only as written; Windows and macOS steps are in packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
DIST=$ROOT/packaging/dist
WORK=$ROOT/packaging/build
BUNDLE=$DIST/seal-sticker-studio
CLEAN=()
[ "${1:-}" = "--clean" ] && CLEAN=(--clean)

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "PyInstaller is missing: $PY -m pip install -e '.[packaging]'" >&2
  exit 2
fi
"$PY" -c "import seal_engine, seal_desktop" || { echo "install the app first: $PY -m pip install -e ." >&2; exit 2; }

"$PY" packaging/make_icons.py

echo "== PyInstaller ($("$PY" -m PyInstaller --version)) =="
START=$(date +%s)
"$PY" -m PyInstaller packaging/seal.spec --noconfirm "${CLEAN[@]}" --log-level WARN \
  --distpath "$DIST" --workpath "$WORK"
BUILD_S=$(( $(date +%s) - START ))

# Linux desktop integration files travel with the bundle (install steps: packaging/README.md)
cp packaging/linux/seal-sticker-studio.desktop "$BUNDLE/"
cp resources/icons/seal-sticker-studio.png "$BUNDLE/seal-sticker-studio.png"

echo "== checks =="
weights=$(find "$BUNDLE" -type f \( -name '*.safetensors' -o -name '*.ckpt' -o -name '*.pth' -o -name 'pytorch_model*.bin' \) | head -5)
if [ -n "$weights" ]; then
  echo "model weights found in the bundle (they must be downloaded on first run):" >&2
  echo "$weights" >&2
  exit 1
fi
echo "no model weights in the bundle"

SELFTEST_HOME=$(mktemp -d)
trap 'rm -rf "$SELFTEST_HOME"' EXIT
echo "== $BUNDLE/seal-desktop --self-test =="
START=$(date +%s)
SEAL_HOME=$SELFTEST_HOME HF_HUB_OFFLINE=1 "$BUNDLE/seal-desktop" --self-test
SELFTEST_S=$(( $(date +%s) - START ))
echo "== $BUNDLE/seal --version; seal validate --help =="
"$BUNDLE/seal" --version
SEAL_HOME=$SELFTEST_HOME "$BUNDLE/seal" validate --help >/dev/null

SIZE=$(du -sh "$BUNDLE" | cut -f1)
FILES=$(find "$BUNDLE" -type f | wc -l)
echo "== done =="
echo "bundle: $BUNDLE"
echo "bundle size: $SIZE in $FILES files (build ${BUILD_S} s, self-test ${SELFTEST_S} s)"
