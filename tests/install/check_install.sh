#!/bin/sh
# Installs the build into a fresh prefix, then checks what an admin and an App
# author would: the installed mmhost finds and activates the installed
# plugin; the installed hello-oauth2 runs without LD_LIBRARY_PATH, also once
# the prefix is moved; hello-oauth2 builds against the installed library with
# pkg-config alone and runs with the rpath the README gives; and a program
# links libmmapps statically with `pkg-config --static --libs mmapps` alone.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d)
prefix=$work/prefix
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
pid=
fail() {
	echo "install: $*" >&2
	exit 1
}
unset LD_LIBRARY_PATH

cmake --install "$build" --prefix "$prefix" >/dev/null

# The installed App finds the installed library, from wherever it lies.
"$prefix/bin/hello-oauth2" --help | grep -q "Usage: hello-oauth2" ||
	fail "the installed hello-oauth2 does not run without LD_LIBRARY_PATH"
readelf -d "$prefix/bin/hello-oauth2" | grep -q 'R.*PATH.*\[\$ORIGIN/\.\./lib\]' ||
	fail "the installed hello-oauth2 has no \$ORIGIN/../lib RPATH"
cp -a "$prefix" "$work/moved"
"$work/moved/bin/hello-oauth2" --help | grep -q "Usage: hello-oauth2" ||
	fail "hello-oauth2 does not run once the prefix is moved"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists mmapps
[ "$(pkg-config --modversion mmapps)" = "$(sed -n 's/^project([^ ]* VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ]
# An App of one's own, as the READMEs say: pkg-config, and an rpath to libdir.
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "$src/examples/hello-oauth2/hello_oauth2.c" \
	$(pkg-config --cflags --libs mmapps libmicrohttpd jansson libcurl) \
	-Wl,-rpath,"$(pkg-config --variable=libdir mmapps)" -o "$work/hello"
"$work/hello" --help | grep -q "Usage: hello-oauth2" ||
	fail "an App built with -Wl,-rpath,\$(pkg-config --variable=libdir mmapps) does not run"

# Statically: a prefix holding only the archive, and pkg-config --static.
# The program calls into each part of the driver, so that every object of
# the archive and every library they need is linked.
static=$work/static
mkdir -p "$static/lib/pkgconfig" "$static/include"
cp -r "$prefix/include/mmapps" "$static/include/"
cp "$prefix/lib/libmmapps.a" "$static/lib/"
cp "$prefix/lib/pkgconfig/mmapps.pc" "$static/lib/pkgconfig/"
cat >"$work/tiny.c" <<'C'
#include <mmapps/client.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct mmapps_jwt_claims claims;
	struct mmapps_oauth2_config cfg = { .client_id = "id", .token_url = "ftp://x" };
	mmapps_client *c = mmapps_client_new("http://127.0.0.1:1", "token");
	char *token = NULL;
	int rc = mmapps_delete_oauth2_user(c) == MMAPPS_ENETWORK &&
		 mmapps_jwt_verify("Bearer a.b.c", "0123456789abcdef", 16, &claims) ==
			 MMAPPS_EAUTH &&
		 mmapps_oauth2_exchange(&cfg, "code", NULL, &token, NULL, NULL) == MMAPPS_EINVAL;

	mmapps_client_free(c);
	puts(rc ? "static ok" : "static wrong");
	return rc ? 0 : 1;
}
C
PKG_CONFIG_PATH="$static/lib/pkgconfig" sh -c \
	'cc -std=c11 -Wall -Werror "$1" $(pkg-config --cflags --static --libs mmapps) -o "$2"' \
	sh "$work/tiny.c" "$work/tiny" || fail "pkg-config --static --libs mmapps does not link"
! readelf -d "$work/tiny" | grep -q 'libmmapps' || fail "the static link needs libmmapps.so"
"$work/tiny" | grep -q "static ok" || fail "the statically linked program does not work"

"$prefix/bin/mmhost" --version | grep -q "^mmhost "
"$prefix/bin/mmhost" serve --listen 127.0.0.1:0 --data-dir "$prefix/data" 2>"$prefix/host.log" &
pid=$!
for _ in $(seq 1 100); do
	grep -q "listening addr=" "$prefix/host.log" && break
	sleep 0.05
done
grep -q "plugin activated plugin_id=com.mattermost.apps" "$prefix/host.log" || {
	cat "$prefix/host.log" >&2
	exit 1
}
kill -TERM "$pid"
wait "$pid"
pid=
echo "install: host, plugin bundle, library (shared and static), headers and mmapps.pc work from $prefix"
