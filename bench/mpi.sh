#!/bin/sh
# Data-parallel scaling of `reel train` on this machine: the bench LSTM
# (T = 50, H = 256, the adding problem's 2 inputs, one output), B = 32
# sequences per rank, at 1 and 2 ranks, beside one process with 2 BLIS
# threads; the time in MPI_Allreduce per update and its share.  Reports
# only.  STEPS (default 200) updates per run.  Usage: sh bench/mpi.sh
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
STEPS=${STEPS:-200}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-bench-mpi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
set_common="--set model.0.hidden_size=256 --set data.length=50 --set train.steps=$STEPS --set train.valid_every=100000 --set train.valid_batches=1 --set train.log_every=$STEPS --show 0"

# one NAME NP THREADS B: train and print sequences/s (and allreduce time)
one() {
	name=$1 np=$2 th=$3 B=$4
	if [ "$np" = 1 ]; then launch=""; else launch="mpirun --oversubscribe --bind-to none -np $np"; fi
	# shellcheck disable=SC2086
	out=$($launch "$REEL" train configs/adding-problem.json -o "$tmp/$name" --force $set_common \
		--set train.threads="$th" --set train.batch_size="$B" 2>&1) || { echo "$name: failed"; printf '%s\n' "$out"; return; }
	rate=$(grep '"seq_per_s"' "$tmp/$name/metrics.jsonl" | tail -n 1 | sed 's/.*"seq_per_s": \([0-9.]*\).*/\1/')
	red=$(printf '%s\n' "$out" | sed -n 's/.* on [0-9]* processes (\([0-9.]*\) s, \([0-9.]*\)%, in \([0-9]*\) MPI_Allreduce calls).*/\1 s in MPI_Allreduce (\2% of the run, \3 calls)/p')
	printf '%-36s %8s seq/s  %s\n' "$name" "$rate" "$red"
}

echo "bench LSTM: T 50, H 256, B 32 per rank, $STEPS updates, Adam; $(nproc) cores"
one "1 process, 1 thread, B 32" 1 1 32
one "1 process, 2 threads, B 32" 1 2 32
one "1 process, 2 threads, B 64" 1 2 64
one "2 ranks x 1 thread, B 32 each (64)" 2 1 64
# the gradient: 4 * 256 * (2 + 256) + 2 * 4 * 256 + 257 parameters
echo "gradient: $(( (4*256*(2+256) + 8*256 + 257) * 4 )) bytes of float per update"
