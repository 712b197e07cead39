#!/usr/bin/env bash
# Launch the built bundle under Xvfb and take two screenshots (Linux, needs xvfb + imagemagick):
#   docs/screenshots/bundle-first-run.png    fresh profile: the first-run dialog
#   docs/screenshots/bundle-main-window.png  a profile whose model is a tiny local folder: the main window
# Usage: packaging/screenshot.sh [BUNDLE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${1:-packaging/dist/seal-sticker-studio}
OUT=docs/screenshots
mkdir -p "$OUT"
DISPLAY_NUM=:${SCREEN_DISPLAY:-97}
TMP=$(mktemp -d)
Xvfb "$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
APP=
cleanup() { [ -n "$APP" ] && kill "$APP" 2>/dev/null; kill "$XVFB" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
sleep 2
export DISPLAY=$DISPLAY_NUM QT_QPA_PLATFORM=xcb

shot() {  # $1 = SEAL_HOME, $2 = png, $3 = seconds to wait for the window
  SEAL_HOME=$1 HF_HUB_OFFLINE=1 "$BUNDLE/seal-desktop" >"$TMP/app.log" 2>&1 &
  APP=$!
  sleep "$3"
  kill -0 "$APP" 2>/dev/null || { echo "seal-desktop exited early:"; cat "$TMP/app.log"; exit 1; }
  import -window root png:- | /usr/bin/convert png:- -bordercolor black -border 1 -trim +repage "$2"  # crop the black Xvfb background
  kill "$APP"; wait "$APP" 2>/dev/null || true; APP=
  echo "wrote $2"
}

shot "$TMP/fresh" "$OUT/bundle-first-run.png" "${WAIT_S:-20}"

mkdir -p "$TMP/ready"
"$BUNDLE/seal" tiny-model "$TMP/tiny-sd15" >/dev/null
printf '{"version": 1, "model_source": "folder", "model": "%s"}\n' "$TMP/tiny-sd15" >"$TMP/ready/settings.json"
shot "$TMP/ready" "$OUT/bundle-main-window.png" "${WAIT_S:-20}"
