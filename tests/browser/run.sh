#!/bin/sh
# Runs demo.test.mjs: Debian's Chromium, driven headless by playwright-core
# (pinned by package-lock.json; it downloads no browser), walks `make demo`
# (scripts/demo.sh, with the binaries of this build on free ports) as a
# person would.
# Usage: run.sh BIN_DIR PLUGIN_DIR WORK_DIR
# Screenshots of a failing step go to WORK_DIR/screenshots.
set -eu
bin=$(cd "$1" && pwd)
plugins=$(cd "$2" && pwd)
work=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

command -v chromium >/dev/null 2>&1 || {
	echo "browser test: chromium is missing; scripts/deps.sh installs it" >&2
	exit 1
}
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/demo.test.mjs" "$work/"
"$here/../node/npm_ci.sh" "$work"
cd "$work"
rm -rf screenshots
DEMO_SCRIPT="$root/scripts/demo.sh" DEMO_BIN="$bin" DEMO_PLUGINS="$plugins" \
	DEMO_DIR="$work/demo" SCREENSHOTS="$work/screenshots" \
	exec node --test --test-concurrency=1 demo.test.mjs
