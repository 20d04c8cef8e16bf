#!/bin/bash
# A throwaway PostgreSQL cluster for the tests, from Debian's postgresql
# package: initdb into a fresh temporary folder (as the postgres user when run
# as root: PostgreSQL refuses to run as root), the server listening on a free
# port of 127.0.0.1 and on a unix socket in that folder, fsync left on.
#
#   pg_tmp.sh start STATE   start a cluster; STATE (a file) gets "DIR PORT"
#   pg_tmp.sh stop STATE    stop it (immediate) and remove it and STATE
#   pg_tmp.sh pause STATE   stop the server, keep the data (tests of outages)
#   pg_tmp.sh resume STATE  start the server again on the same port
#   pg_tmp.sh freeze STATE  SIGSTOP the server and its backends: connections
#                           stay open and nothing answers (a database that
#                           hangs, not one that is down)
#   pg_tmp.sh thaw STATE    SIGCONT them
#   pg_tmp.sh url STATE DB  print the libpq URI of database DB
#
# A start on a STATE that names a cluster stops and removes that one first,
# so that a run killed half-way leaves nothing behind for long.
set -eu

bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "pg_tmp: PostgreSQL's initdb not found (scripts/deps.sh installs postgresql)" >&2; exit 1; }

cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: pg_tmp.sh start|stop|pause|resume|freeze|thaw|url STATE [DB]" >&2; exit 2; }

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

read_state() {
	[ -f "$state" ] || { echo "pg_tmp: no cluster in $state" >&2; exit 1; }
	read -r dir port <"$state"
}

server_start() {
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
		start >/dev/null
}

free_port() {
	i=0
	while [ $i -lt 50 ]; do
		p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# signal_cluster SIG: the postmaster of $dir and the processes it started
# (by their ids, from postmaster.pid and their parent id).
signal_cluster() {
	local pid child
	pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	if [ "$1" = STOP ]; then
		kill -STOP "$pid" 2>/dev/null || true
	fi
	for child in $(ps -o pid= --ppid "$pid"); do
		kill -"$1" "$child" 2>/dev/null || true
	done
	if [ "$1" = CONT ]; then
		kill -CONT "$pid" 2>/dev/null || true
	fi
}

stop_cluster() {
	if [ -f "$state" ]; then
		read -r dir port <"$state" || true
		if [ -n "${dir:-}" ] && [ -d "$dir" ]; then
			signal_cluster CONT # a stopped process would not hear pg_ctl
			as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
			rm -rf "$dir"
		fi
		rm -f "$state"
	fi
}

case "$cmd" in
start)
	stop_cluster
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mmpg-XXXXXX")
	chmod 0755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	# Until the state file is written, a failure must not leave the folder.
	trap 'as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
	as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	tries=0
	until port=$(free_port) && server_start; do
		tries=$((tries + 1))
		[ $tries -lt 5 ] || { cat "$dir/log" >&2; exit 1; }
	done
	echo "$dir $port" >"$state"
	trap - EXIT
	;;
stop)
	stop_cluster
	;;
pause)
	read_state
	as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
resume)
	read_state
	server_start
	;;
freeze)
	read_state
	signal_cluster STOP
	;;
thaw)
	read_state
	signal_cluster CONT
	;;
url)
	read_state
	echo "postgresql://postgres@127.0.0.1:$port/${3:-postgres}"
	;;
*)
	echo "usage: pg_tmp.sh start|stop|pause|resume|freeze|thaw|url STATE [DB]" >&2
	exit 2
	;;
esac
