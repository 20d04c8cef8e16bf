#!/bin/sh
# Installs the build into a fresh prefix, then checks what an admin and an App
# author would: the installed mmhost finds and activates the installed
# plugin, and hello-oauth2 builds against the installed library with
# pkg-config alone.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
prefix=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$prefix"' EXIT
pid=

cmake --install "$build" --prefix "$prefix" >/dev/null

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists mmapps
[ "$(pkg-config --modversion mmapps)" = "$(sed -n 's/^project([^ ]* VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ]
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "$src/examples/hello-oauth2/hello_oauth2.c" \
	$(pkg-config --cflags --libs mmapps libmicrohttpd jansson libcurl) -o "$prefix/hello"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/hello" --help | grep -q "Usage: hello-oauth2"
# The static library links alone too.
cc -std=c11 -D_GNU_SOURCE "$src/examples/hello-oauth2/hello_oauth2.c" -I"$prefix/include" \
	"$prefix/lib/libmmapps.a" $(pkg-config --libs libmicrohttpd jansson libcurl) \
	-lpthread -o "$prefix/hello-static"

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
echo "install: host, plugin bundle, library, headers and mmapps.pc work from $prefix"
