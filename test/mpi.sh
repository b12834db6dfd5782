#!/bin/sh
# Data-parallel training (mpirun -np 2 reel train) against one process.
#
# The same config, global batch and seed trained 30 updates by 1 process and
# by 2 ranks must end with the same parameters: in the double build to 1e-10
# relative per element; in float to 1e-5 absolute (see README.md, "Training
# on several processes": the largest difference seen is about 1.5e-6, a
# gradient averaged without weighing each rank by its token count differs
# by 2e-2).  The configs have variable lengths (a tagger over unbucketed
# lines, a bucketed classifier with an odd batch) and active clipping.  A
# run of 2 ranks killed with SIGKILL and resumed ends bitwise where an
# uninterrupted one does.  Skipped (with a note) when Open MPI's mpirun is
# missing.  Closes with "mpi: N passed, M failed".
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
REEL_D=${REEL_D:-build/d/reel}
STCMP=${STCMP:-build/stcmp}
# Outputs compared across processes bitwise need one fixed choice of matrix
# product code: the planner's measured choice (engine/gemm_plan.c) may
# differ between two processes and round differently.
export REEL_GEMM=${REEL_GEMM:-blis}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL mpi: $1"; [ -n "$2" ] && printf '%s\n' "$2" | sed 's/^/    /' | head -n 30; }

if ! command -v mpirun >/dev/null 2>&1; then
	echo "mpi: skipped: no mpirun (make deps installs Open MPI)"
	echo "mpi: 0 passed, 0 failed"; exit 0
fi
if ! ldd "$REEL" 2>/dev/null | grep -q libmpi; then
	bad "$REEL is built without MPI although mpirun is installed (make clean; make)"
	echo "mpi: $pass passed, $fail failed"; exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-mpi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Open MPI refuses root without these, and needs --oversubscribe for more
# ranks than cores; set for this script only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# no network daemons or shared-memory surprises in containers: loopback TCP
# and shared memory only
export OMPI_MCA_btl="self,vader,tcp" OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
MPIRUN="mpirun --oversubscribe --bind-to none"
# Under `make asan` (ASAN_OPTIONS set) the ranks run without LeakSanitizer:
# Open MPI unloads its components (dlclose) in MPI_Finalize, so the
# allocations they keep are reported from "<unknown module>" frames that no
# suppression can name.  AddressSanitizer and UBSan stay on in the ranks,
# and the one-process runs below keep leak detection.
if [ -n "${ASAN_OPTIONS+x}" ]; then
	MPIRUN="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 $MPIRUN"
fi

# run NAME REEL NP CONFIG DIR ARGS...: train, expecting success
run() {
	what=$1 bin=$2 np=$3 cfg=$4 dir=$5; shift 5
	if [ "$np" = 1 ]; then
		out=$("$bin" train "$cfg" -o "$dir" --show 0 "$@" 2>&1)
	else
		out=$($MPIRUN -np "$np" "$bin" train "$cfg" -o "$dir" --show 0 "$@" 2>&1)
	fi
	rc=$?
	if [ "$rc" != 0 ]; then bad "$what: exit $rc" "$out"; return 1; fi
	ok; return 0
}

# same NAME A B STCMP-ARGS...: the parameters (not the optimizer state) agree
same() {
	what=$1 a=$2 b=$3; shift 3
	out=$("$STCMP" "$a" "$b" --skip optim. "$@" 2>&1)
	if [ $? = 0 ]; then ok; echo "mpi: $what: ${out##*stcmp: }"; else bad "$what" "$out"; fi
}

steps="--set train.steps=30 --set train.epochs=0 --set train.valid_every=15 --set train.valid_batches=4"

# ---- 1 process vs 2 ranks: a tagger, variable lengths, clipping active ----
tag="$steps --set train.batch_size=32 --set train.clip_norm=0.1"
# shellcheck disable=SC2086
run "tag double np 1" "$REEL_D" 1 configs/date-tagger.json "$tmp/td1" $tag &&
run "tag double np 2" "$REEL_D" 2 configs/date-tagger.json "$tmp/td2" $tag &&
	same "tag, double, 1 vs 2 ranks" "$tmp/td1/last.safetensors" "$tmp/td2/last.safetensors" --rtol 1e-10
# shellcheck disable=SC2086
run "tag float np 1" "$REEL" 1 configs/date-tagger.json "$tmp/tf1" $tag &&
run "tag float np 2" "$REEL" 2 configs/date-tagger.json "$tmp/tf2" $tag &&
	same "tag, float, 1 vs 2 ranks" "$tmp/tf1/last.safetensors" "$tmp/tf2/last.safetensors" --atol 1e-5
out=$(cat "$tmp/tf2/metrics.jsonl" 2>/dev/null)
[ "$(printf '%s\n' "$out" | grep -c '"loss"')" -ge 1 ] && ok || bad "np 2: rank 0 wrote no metrics" "$out"
# the validation (split over the ranks and summed) is the one of one process
v1=$(grep valid_loss "$tmp/td1/metrics.jsonl" | tail -n 1 | sed 's/.*"valid_loss": \([^,}]*\).*/\1/')
v2=$(grep valid_loss "$tmp/td2/metrics.jsonl" | tail -n 1 | sed 's/.*"valid_loss": \([^,}]*\).*/\1/')
[ -n "$v1" ] && [ "$v1" = "$v2" ] && ok || bad "validation loss: 1 process $v1, 2 ranks $v2"

# ---- a bucketed classifier with an odd global batch (15 + 16) ----
cls="$steps --set train.batch_size=31 --set train.clip_norm=0.05"
# shellcheck disable=SC2086
run "classify double np 1" "$REEL_D" 1 configs/brackets-classifier.json "$tmp/cd1" $cls &&
run "classify double np 2" "$REEL_D" 2 configs/brackets-classifier.json "$tmp/cd2" $cls &&
	same "classify, double, 1 vs 2 ranks" "$tmp/cd1/last.safetensors" "$tmp/cd2/last.safetensors" --rtol 1e-10

# ---- only rank 0 speaks ----
# shellcheck disable=SC2086
out=$($MPIRUN -np 2 "$REEL" train configs/date-tagger.json -o "$tmp/talk" --show 0 $steps 2>&1)
n=$(printf '%s\n' "$out" | grep -c "^reel: training")
[ "$n" = 1 ] && ok || bad "np 2: \"reel: training\" printed $n times, expected once" "$out"
printf '%s\n' "$out" | grep -q "data parallel over 2 processes" && ok || bad "np 2: no data-parallel note" "$out"

# ---- --resume under 2 ranks after a kill ----
long="--set train.steps=150 --set train.epochs=0 --set train.valid_every=50 --set train.valid_batches=2 --set train.checkpoint_every=10"
# shellcheck disable=SC2086
run "uninterrupted np 2" "$REEL" 2 configs/date-tagger.json "$tmp/ref" $long
# shellcheck disable=SC2086
$MPIRUN -np 2 "$REEL" train configs/date-tagger.json -o "$tmp/kill" --show 0 $long >"$tmp/kill.log" 2>&1 &
mpipid=$!
i=0
# kill a rank once the first checkpoint (update 10) is written
while [ $i -lt 600 ] && ! [ -e "$tmp/kill/last.safetensors" ]; do sleep 0.02; i=$((i + 1)); done
rank=$(pgrep -P "$mpipid" | head -n 1)
if [ -n "$rank" ] && kill -KILL "$rank" 2>/dev/null; then ok; else bad "could not kill a rank of the run (finished already?)" "$(cat "$tmp/kill.log")"; fi
wait "$mpipid" 2>/dev/null
grep -q '"step": 150,' "$tmp/kill/metrics.jsonl" && bad "the killed run reached its end" || ok
# shellcheck disable=SC2086
out=$($MPIRUN -np 2 "$REEL" train configs/date-tagger.json -o "$tmp/kill" --resume --show 0 $long 2>&1)
if [ $? = 0 ] && printf '%s\n' "$out" | grep -q "resuming $tmp/kill at update"; then ok; else bad "resume np 2" "$out"; fi
same "killed and resumed vs uninterrupted, 2 ranks" "$tmp/ref/last.safetensors" "$tmp/kill/last.safetensors" --rtol 0

echo "mpi: $pass passed, $fail failed"
[ "$fail" = 0 ]
