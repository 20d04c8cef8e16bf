#!/bin/sh
# npm_ci.sh DIR: installs the packages pinned by DIR/package-lock.json into
# DIR/node_modules, only when they are missing or the lock file changed
# since (the test scripts copy it afresh each run: compared by content).
# Shared by the Node test suites (tests/node, tests/browser).
set -eu
cd "$1"
# npm trusts only its own CA list; a machine whose egress goes through a
# proxy with a locally installed CA has it in the system bundle instead.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.installed-lock.json
fi
