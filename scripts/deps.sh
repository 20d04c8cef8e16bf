#!/bin/sh
# Installs the Debian packages the build and the tests need, only when one is
# missing. Safe to run again: with everything present it does nothing.
set -eu

missing=""
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || missing="$missing $1"; }

need_cmd pkg-config pkg-config
need_cmd cmake cmake
need_cmd make make
need_cmd curl curl
need_cmd cc gcc
need_cmd clang clang
need_pkg libclang-rt-14-dev
need_pc jansson libjansson-dev
need_pc libsodium libsodium-dev
need_pc lmdb liblmdb-dev
need_pc libmicrohttpd libmicrohttpd-dev
need_pc libcurl libcurl4-openssl-dev
need_pc cmocka libcmocka-dev
# The PostgreSQL backend (libpq) and, for the tests, a throwaway server
# (tests/pg/pg_tmp.sh runs Debian's initdb and pg_ctl; runuser comes with
# util-linux).
need_pc libpq libpq-dev
need_pkg postgresql
# Linking libmmapps statically (pkg-config --static --libs mmapps) also links
# what libcurl itself links; Debian's libcurl4-openssl-dev does not bring
# those -dev packages. mmapps.pc names each in Requires.private.
need_pc libnghttp2 libnghttp2-dev
need_pc libidn2 libidn2-dev
need_pc librtmp librtmp-dev
need_pc libssh2 libssh2-1-dev
need_pc libpsl libpsl-dev
need_pc openssl libssl-dev
need_pc krb5-gssapi libkrb5-dev
need_pc ldap libldap-dev
need_pc libzstd libzstd-dev
need_pc libbrotlidec libbrotli-dev
need_pc zlib zlib1g-dev
need_pc libsasl2 libsasl2-dev
need_pkg libunistring-dev
# The client4 test runs Mattermost's JavaScript client under Node.js.
need_cmd node nodejs
need_cmd npm npm
# npm fetches @mattermost/client over HTTPS; the system CA bundle.
need_pkg ca-certificates
# The browser test drives Debian's Chromium (playwright-core downloads none).
need_cmd chromium chromium

# promtool, which checks the metrics text in the tests: the one binary out of
# Debian's prometheus package, unpacked into build/tools without installing
# the package (that would also install, and start, a Prometheus server).
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$root/build/tools/promtool" ]; then
	echo "deps: fetching promtool (Debian package prometheus, unpacked, not installed)" >&2
	tmp=$(mktemp -d)
	( cd "$tmp" && apt-get download prometheus >/dev/null 2>&1 ) ||
		{ [ "$(id -u)" -eq 0 ] && apt-get update -qq && ( cd "$tmp" && apt-get download prometheus >/dev/null ); } ||
		{ echo "deps: cannot download the prometheus package for promtool" >&2; rm -rf "$tmp"; exit 1; }
	mkdir -p "$root/build/tools"
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$root/build/tools/promtool.new"
	chmod 0755 "$root/build/tools/promtool.new"
	mv "$root/build/tools/promtool.new" "$root/build/tools/promtool"
	rm -rf "$tmp"
fi

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: missing packages:$missing; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
