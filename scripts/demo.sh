#!/bin/sh
# `make demo`: the host with the plugin, the example App hello-oauth2 and a
# small OAuth2 provider, ready for a person to click through the flow.
# Everything lives in build/demo and goes away at the next `make demo`.
# Ports: host 8065, hello-oauth2 8081, provider 8082. Ctrl-C stops all three.
set -eu
cd "$(dirname "$0")/.."
bin=build/bin
demo=build/demo
site=http://127.0.0.1:8065
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

rm -rf "$demo"
mkdir -p "$demo"
pw() { od -An -N9 -tx1 /dev/urandom | tr -d ' \n'; }
admin_pw=$(pw)
user_pw=$(pw)

"$bin/test-provider" --listen 127.0.0.1:8082 --client-id hello-client \
	--client-secret hello-secret 2>"$demo/provider.log" &
pids="$pids $!"
"$bin/hello-oauth2" --listen 127.0.0.1:8081 --provider-url http://127.0.0.1:8082 \
	--site-url "$site" --app-secret-file "$demo/app-secret" 2>"$demo/hello-oauth2.log" &
pids="$pids $!"
"$bin/mmhost" user create --data-dir "$demo/data" --username admin --password "$admin_pw" \
	--system-admin >/dev/null
"$bin/mmhost" user create --data-dir "$demo/data" --username demo --password "$user_pw" >/dev/null
"$bin/mmhost" serve --listen 127.0.0.1:8065 --site-url "$site" --data-dir "$demo/data" \
	--plugin-dir build/plugins 2>"$demo/mmhost.log" &
pids="$pids $!"
for _ in $(seq 1 100); do
	grep -q "listening addr=" "$demo/mmhost.log" 2>/dev/null &&
		grep -q "listening on" "$demo/hello-oauth2.log" 2>/dev/null && break
	sleep 0.1
done

token() {
	curl -s -i -X POST "$site/api/v4/users/login" -d "{\"login_id\":\"$1\",\"password\":\"$2\"}" |
		tr -d '\r' | sed -n 's/^Token: //p'
}
api() { curl -s -X POST -H "Authorization: Bearer $1" "$site/plugins/com.mattermost.apps$2" -d "$3"; }
call() {
	api "$1" /api/v1/call "{\"path\":\"$2\",\"expand\":$3,\"values\":{\"client_id\":\"hello-client\",\"client_secret\":\"hello-secret\"},\"context\":{\"app_id\":\"hello-oauth2\"}}"
}
admin_token=$(token admin "$admin_pw")
user_token=$(token demo "$user_pw")
curl -s http://127.0.0.1:8081/manifest.json >"$demo/manifest.json"
api "$admin_token" /api/v1/update-app-listing "$(cat "$demo/manifest.json")" >/dev/null
# The App's JWT secret is shown once, in install-app's answer: hand it over.
api "$admin_token" /api/v1/install-app '{"app_id":"hello-oauth2","deploy_type":"http"}' |
	sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' | (umask 077 && cat >"$demo/app-secret")
call "$admin_token" /configure '{"acting_user":"summary"}' >/dev/null

cat <<MSG

  The demo is running (logs in $demo).

  1. Open   $site/login
     and log in as   demo   with password   $user_pw
  2. Then open   $site/plugins/com.mattermost.apps/apps/hello-oauth2/oauth2/remote/connect
     The provider at 127.0.0.1:8082 says yes at once; you land on
     "You have connected your account."
  3. This script asks hello-oauth2 /me every 2 seconds and tells you when
     you are connected. (The admin is   admin / $admin_pw .)

  Ctrl-C stops everything.

MSG
last=""
while :; do
	me=$(call "$user_token" /me '{"acting_user_access_token":"all"}' |
		sed -n 's/.*"text":"\([^"]*\)".*/\1/p')
	if [ "$me" != "$last" ]; then
		echo "hello-oauth2 /me: $me"
		last=$me
	fi
	sleep 2
done
