#!/bin/sh
# `make run`: start the host with the plugin, data in ./data, on
# 127.0.0.1:8065 (override with MMHOST_LISTEN). Stop it with Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
listen="${MMHOST_LISTEN:-127.0.0.1:8065}"
echo "mmhost: serving on http://$listen (data in ./data); Ctrl-C stops it" >&2
exec build/bin/mmhost serve --listen "$listen" --data-dir ./data --plugin-dir build/plugins
