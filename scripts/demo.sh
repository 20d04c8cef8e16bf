#!/bin/sh
# `make demo`: the host with the plugin, the example App hello-oauth2 and a
# small OAuth2 provider, ready for a person to click through the flow.
# Everything lives in build/demo and goes away at the next `make demo`.
#
# Addresses (each ADDR:PORT, like `make run`'s MMHOST_LISTEN):
#   MMHOST_LISTEN         the host           (default 127.0.0.1:8065)
#   DEMO_APP_LISTEN       hello-oauth2       (default 127.0.0.1:8081)
#   DEMO_PROVIDER_LISTEN  the OAuth2 provider (default 127.0.0.1:8082)
# DEMO_BIN (default build/bin), DEMO_PLUGINS (build/plugins) and DEMO_DIR
# (build/demo) point it at another build; the tests use them.
#
# If anything fails to start (a port already taken, say by `make run`), it
# stops everything and says why here, at once. Ctrl-C or SIGTERM stops all
# three and returns.
set -eu
cd "$(dirname "$0")/.."
bin=${DEMO_BIN:-build/bin}
plugins=${DEMO_PLUGINS:-build/plugins}
demo=${DEMO_DIR:-build/demo}
listen=${MMHOST_LISTEN:-127.0.0.1:8065}
app_listen=${DEMO_APP_LISTEN:-127.0.0.1:8081}
provider_listen=${DEMO_PROVIDER_LISTEN:-127.0.0.1:8082}
site=http://$listen
provider=http://$provider_listen

pids=
nap=
cleanup() {
	trap - EXIT INT TERM
	for p in $pids $nap; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

die() {
	echo "demo: $*" >&2
	exit 1
}

# started PID LOG PATTERN NAME: waits until LOG shows PATTERN; if the
# process ends first (a port in use, a bad flag) or 20 s pass, shows why
# and stops.
started() {
	i=0
	while ! grep -q "$3" "$2" 2>/dev/null; do
		if ! kill -0 "$1" 2>/dev/null; then
			echo "demo: $4 did not start:" >&2
			tail -n 5 "$2" >&2
			exit 1
		fi
		i=$((i + 1))
		[ "$i" -le 200 ] || die "$4 did not start within 20 s; its log: $2"
		sleep 0.1
	done
}

for b in mmhost hello-oauth2 test-provider; do
	[ -x "$bin/$b" ] || die "$bin/$b is missing: run make build first"
done
rm -rf "$demo"
mkdir -p "$demo"
pw() { od -An -N9 -tx1 /dev/urandom | tr -d ' \n'; }
admin_pw=$(pw)
user_pw=$(pw)

"$bin/test-provider" --listen "$provider_listen" --client-id hello-client \
	--client-secret hello-secret 2>"$demo/provider.log" &
pids="$pids $!"
started "$!" "$demo/provider.log" "listening on" "the OAuth2 provider ($provider_listen)"
"$bin/hello-oauth2" --listen "$app_listen" --provider-url "$provider" \
	--site-url "$site" --app-secret-file "$demo/app-secret" 2>"$demo/hello-oauth2.log" &
pids="$pids $!"
started "$!" "$demo/hello-oauth2.log" "listening on" "hello-oauth2 ($app_listen)"
"$bin/mmhost" user create --data-dir "$demo/data" --username admin --password "$admin_pw" \
	--system-admin >/dev/null
"$bin/mmhost" user create --data-dir "$demo/data" --username demo --password "$user_pw" \
	>/dev/null
"$bin/mmhost" serve --listen "$listen" --data-dir "$demo/data" --plugin-dir "$plugins" \
	2>"$demo/mmhost.log" &
pids="$pids $!"
started "$!" "$demo/mmhost.log" "listening addr=" "mmhost ($listen)"

# login USER PASSWORD: the session token, or nothing.
login() {
	curl -sS --max-time 10 -o /dev/null -D - -X POST "$site/api/v4/users/login" \
		-d "{\"login_id\":\"$1\",\"password\":\"$2\"}" | tr -d '\r' | sed -n 's/^Token: //p'
}
# api TOKEN PATH BODY: POSTs to the plugin and prints the answer; stops the
# demo unless it is 200.
api() {
	out=$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $1" \
		"$site/plugins/com.mattermost.apps$2" -d "$3") || die "$2: no answer from $site"
	code=$(printf '%s\n' "$out" | tail -n 1)
	[ "$code" = 200 ] || die "$2 answered $code: $(printf '%s\n' "$out" | sed '$d')"
	printf '%s\n' "$out" | sed '$d'
}
call() {
	api "$1" /api/v1/call "{\"path\":\"$2\",\"expand\":$3,\"values\":{\"client_id\":\"hello-client\",\"client_secret\":\"hello-secret\"},\"context\":{\"app_id\":\"hello-oauth2\"}}"
}

admin_token=$(login admin "$admin_pw")
[ -n "$admin_token" ] || die "cannot log in as admin; see $demo/mmhost.log"
user_token=$(login demo "$user_pw")
[ -n "$user_token" ] || die "cannot log in as demo; see $demo/mmhost.log"
curl -sS --max-time 10 -f "http://$app_listen/manifest.json" >"$demo/manifest.json" ||
	die "hello-oauth2 does not serve its manifest at http://$app_listen/manifest.json"
api "$admin_token" /api/v1/update-app-listing "$(cat "$demo/manifest.json")" >/dev/null
# The App's JWT secret is shown once, in install-app's answer: hand it over.
installed=$(api "$admin_token" /api/v1/install-app '{"app_id":"hello-oauth2","deploy_type":"http"}')
secret=$(printf '%s\n' "$installed" | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
[ -n "$secret" ] || die "install-app answered no secret: $installed"
(umask 077 && printf '%s\n' "$secret" >"$demo/app-secret")
configured=$(call "$admin_token" /configure '{"acting_user":"summary"}')
case $configured in
*'"type":"ok"'*) ;;
*) die "hello-oauth2 /configure failed: $configured" ;;
esac

cat <<MSG

  The demo is running (logs in $demo).

  1. Open   $site/
     and log in as   demo   with password   $user_pw
  2. The start page lists Hello OAuth2: click "Connect". The provider at
     $provider says yes at once; you land on
     "You have connected your account." Back on $site/ it says Connected.
  3. This script asks hello-oauth2 /me every 2 seconds and tells you when
     you are connected. (The admin is   admin / $admin_pw .)

  Ctrl-C stops everything.

MSG
last=""
while :; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || die "a demo process ($p) stopped; logs in $demo"
	done
	me=$(call "$user_token" /me '{"acting_user_access_token":"all"}' 2>/dev/null |
		sed -n 's/.*"text":"\([^"]*\)".*/\1/p') || true
	if [ -n "$me" ] && [ "$me" != "$last" ]; then
		echo "hello-oauth2 /me: $me"
		last=$me
	fi
	# In the background, so that a signal is handled at once.
	sleep 2 &
	nap=$!
	wait "$nap" || true
done
