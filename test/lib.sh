# Shared by the shell test scripts (test/cli.sh, test/infer.sh): counters
# and the expect helper.  The sourcing script sets SUITE (the name in its
# FAIL lines and summary) first, and ends with `summary`.
pass=0; fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $SUITE: $1"; [ -n "$2" ] && printf '%s\n' "$2" | sed 's/^/    /' | head -n 30; }

# expect NAME CODE "needle"... -- command...: exit status CODE, and stdout
# plus stderr contain every needle.  The output is left in $out.
expect() {
	what=$1; code=$2; shift 2
	needles=""
	while [ "$1" != "--" ]; do needles="$needles
$1"; shift; done
	shift
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" != "$code" ]; then bad "$what: exit $rc, expected $code" "$out"; return; fi
	missing=$(printf '%s\n' "$needles" | while IFS= read -r n; do
		[ -z "$n" ] && continue
		printf '%s\n' "$out" | grep -qF -- "$n" || echo "$n"
	done)
	if [ -n "$missing" ]; then bad "$what: output lacks: $missing" "$out"; return; fi
	ok
}

# "SUITE: N passed, M failed"; the exit status tells whether all passed.
summary() {
	echo "$SUITE: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
