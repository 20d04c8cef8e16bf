#!/bin/sh
# Every C source of the project includes banned.h (last), so that unsafe libc
# calls are compile errors. Fails naming each file that does not.
set -eu
cd "$(dirname "$0")/.."
status=0
for f in $(git ls-files 'common/*.c' 'host/*.c' 'plugin/*.c' 'driver/*.c' 'examples/*.c' 2>/dev/null ||
	find common host plugin -name '*.c'); do
	last=$(grep -n '^#include' "$f" | tail -1 | cut -d: -f2-)
	if [ "$last" != '#include "banned.h"' ]; then
		echo "$f: the last #include must be \"banned.h\"" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "banned.h: every source includes it last"
exit $status
