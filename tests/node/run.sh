#!/bin/sh
# Runs client4.test.mjs against a real mmhost.
# Usage: run.sh MMHOST_BINARY PLUGIN_DIR WORK_DIR TEST_APP_BINARY
# Installs @mattermost/client (pinned by package-lock.json) into WORK_DIR,
# starts mmhost on a free port with a fresh data folder and an admin, runs
# the tests with Node's test runner, then stops the host with SIGTERM and
# fails unless it exits 0.
set -eu
mmhost=$1
plugins=$2
work=$3
test_app=$4
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/client4.test.mjs" "$work/"
"$here/npm_ci.sh" "$work"
cd "$work"

tmp=$(mktemp -d)
pid=
app_pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	[ -n "$app_pid" ] && kill -9 "$app_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_port LOG PATTERN: the port a process printed after PATTERN.
wait_port() {
	for _ in $(seq 1 200); do
		p=$(sed -n "s/.*$2127\.0\.0\.1:\([0-9]*\).*/\1/p" "$1" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	cat "$1" >&2
	return 1
}

"$test_app" --listen 127.0.0.1:0 2>"$tmp/app.log" &
app_pid=$!
app_port=$(wait_port "$tmp/app.log" "test-app listening on ")

password="node-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$mmhost" user create --data-dir "$tmp/data" --username admin --password "$password" \
	--system-admin >/dev/null
"$mmhost" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --plugin-dir "$plugins" \
	2>"$tmp/host.log" &
pid=$!
port=$(wait_port "$tmp/host.log" "listening addr=")

status=0
MMHOST_URL="http://127.0.0.1:$port" MMHOST_ADMIN=admin MMHOST_PASSWORD="$password" \
	TEST_APP_URL="http://127.0.0.1:$app_port" \
	node --test client4.test.mjs || status=$?
kill -TERM "$pid"
wait "$pid" || { echo "mmhost exited $? after SIGTERM" >&2; cat "$tmp/host.log" >&2; exit 1; }
pid=
[ $status -eq 0 ] || cat "$tmp/host.log" >&2
exit $status
