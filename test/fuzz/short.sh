#!/bin/sh
# A short run of every fuzz target (make test, when clang is present):
# FUZZ_SHORT seconds each (default 3) from the committed seed corpus, so CI
# exercises the targets and replays every seed, including the crashes found
# before.  Prints one line per target and closes with "N passed, M failed"
# (test/run.sh reads it).  Without the fuzz binaries (no clang) it says so
# and counts nothing.
secs=${FUZZ_SHORT:-3}
pass=0; fail=0
if [ ! -x build/fuzz/fuzz_safetensors ]; then
	echo "fuzz: skipped (clang not found: the short fuzz runs need clang's libFuzzer)"
	echo "fuzz: 0 passed, 0 failed"
	exit 0
fi
out=$(mktemp -d)
for bin in build/fuzz/fuzz_*; do
	t=${bin#build/fuzz/fuzz_}
	case $t in *.*) continue ;; esac
	mkdir -p "$out/$t"
	if "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ "$out/$t" "test/fuzz/corpus/$t" > "$out/$t.log" 2>&1; then
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
		echo "fuzz $t: $n executions in $secs s, clean"
		pass=$((pass + 1))
	else
		echo "FAIL fuzz $t (the input is in build/fuzz/crash-* or leak-* or timeout-*):"
		grep -E 'ERROR|SUMMARY|Test unit written' "$out/$t.log" | head -n 8
		fail=$((fail + 1))
	fi
done
rm -rf "$out"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
