#!/bin/sh
# Runs each test binary given, shows its output, and closes with the summed
# line "N passed, M failed"; exits non-zero if any case failed or any binary
# crashed.  RUNNER, when set, is a command line to run each binary under
# (e.g. valgrind and its options).
total_p=0; total_f=0; status=0
for bin in "$@"; do
	out=$($RUNNER "$bin" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$bin: crashed or printed no summary (exit $rc)"; total_f=$((total_f + 1)); status=1; continue
	fi
	p=${line% *}; f=${line#* }
	total_p=$((total_p + p)); total_f=$((total_f + f))
	[ "$rc" = 0 ] || status=1
done
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ] && [ "$status" = 0 ]
