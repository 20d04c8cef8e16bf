#!/bin/sh
# Every C source of the project includes banned.h (last), so that unsafe libc
# calls are compile errors. The example App builds against the installed
# library alone (no banned.h there), so it is checked by name instead.
# Fails naming each file that breaks the rule.
set -eu
cd "$(dirname "$0")/.."
status=0
for f in $(git ls-files 'common/*.c' 'host/*.c' 'plugin/*.c' 'driver/*.c'); do
	last=$(grep -n '^#include' "$f" | tail -1 | cut -d: -f2-)
	if [ "$last" != '#include "banned.h"' ]; then
		echo "$f: the last #include must be \"banned.h\"" >&2
		status=1
	fi
done
for f in $(git ls-files 'examples/*.c'); do
	if grep -nE '\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|strtok|atoi|atol|gets)[[:space:]]*\(' "$f" >&2; then
		echo "$f: uses a banned function" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "banned.h: every source includes it last; the examples call no banned function"
exit $status
