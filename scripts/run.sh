#!/bin/sh
# `make run`: start the host with the plugin, data in ./data, on
# 127.0.0.1:8065 (override with MMHOST_LISTEN). Stop it with Ctrl-C.
#
# On the first run (no ./data/host yet) it creates the system admin "admin"
# with a random password, or MMHOST_ADMIN_PASSWORD when set, and prints it
# once, last, right before the server's first log line.
set -eu
cd "$(dirname "$0")/.."
listen="${MMHOST_LISTEN:-127.0.0.1:8065}"
mmhost=build/bin/mmhost

if [ ! -d data/host ]; then
	password="${MMHOST_ADMIN_PASSWORD:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}"
	printf '%s\n' "$password" |
		"$mmhost" user create --data-dir ./data --username admin --password-stdin \
			--system-admin >/dev/null
	cat >&2 <<MSG

mmhost: first run: created the system admin "admin"
mmhost:   username: admin
mmhost:   password: $password   (shown only this once)
mmhost: log in at http://$listen/login

MSG
fi
echo "mmhost: serving on http://$listen (data in ./data); Ctrl-C stops it" >&2
# The site URL defaults to the listen address, the one printed above, so
# that links the server makes (login redirects, the OAuth2 connect URL)
# stay on the host whose cookies the browser holds.
exec "$mmhost" serve --listen "$listen" --data-dir ./data --plugin-dir build/plugins
