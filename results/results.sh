#!/bin/sh
# make results: retrain every row of the results table on the real data
# sets (`make data` fills data-cache/ first) and print the table: task,
# data, model, metric, reel, reference, time to train on this machine.
#
# --quick: the same rows on the small slices committed in
# configs/data/quick/ (configs/quick/NAME.args), for a few updates; no
# cache, no network, seconds.  The tests run it (test/cli.sh) with
# --no-torch, which leaves out the PyTorch run (its import alone takes
# seconds).  Quick numbers only show that the pipeline runs; they are not
# results.  PyTorch runs on TORCH_THREADS threads (default 1, as reel).
#
# Runs go to build/results/ (build/results-quick/ with --quick; or
# $RESULTS_OUT): each
# row's run directory, log, eval JSON, samples and SVGs, and table.md.
set -u
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
PY=${PYTHON:-/usr/bin/python3}
QUICK=0; TORCH=1
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	--no-torch) TORCH=0 ;;
	*) echo "usage: results/results.sh [--quick] [--no-torch]"; exit 2 ;;
	esac
done
OUT=build/results
[ $QUICK = 1 ] && OUT=build/results-quick
OUT=${RESULTS_OUT:-$OUT}
mkdir -p "$OUT"
TABLE=$OUT/table.md
fail=0

if [ $QUICK = 0 ] && [ ! -e data-cache/fashion-mnist ]; then
	echo "results: no data-cache/ (run make data first, or make results QUICK=1)"
	exit 1
fi

# args NAME: the quick data overrides and short training (quick mode only)
args() {
	[ $QUICK = 1 ] || return 0
	[ -f "configs/quick/$1.args" ] && cat "configs/quick/$1.args"
	printf ' %s' "$2"
}
now() { date +%s; }
# json FILE KEY: a number from a one-line JSON object
json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# train NAME CONFIG EXTRA...: train into $OUT/NAME, time it; sets $secs
train() {
	name=$1; cfg=$2; shift 2
	t0=$(now)
	# shellcheck disable=SC2068
	if ! "$REEL" train "$cfg" -o "$OUT/$name" --force --set train.log_every=100 $@ > "$OUT/$name.log" 2>&1; then
		echo "results: $name: training failed:"; tail -n 20 "$OUT/$name.log"; fail=1; secs=0; return 1
	fi
	secs=$(($(now) - t0))
	echo "results: $name trained in $(mmss $secs) ($(grep '^trained' "$OUT/$name.log"))"
}
ev() { # ev NAME CONFIG CHECKPOINT EXTRA...: test-split metrics into $OUT/NAME.eval.json
	name=$1; cfg=$2; ck=$3; shift 3
	# shellcheck disable=SC2068
	"$REEL" eval "$cfg" --params "$OUT/$name/$ck.safetensors" --split test --json $@ > "$OUT/$name.eval.json" 2>&1 ||
		{ echo "results: $name: eval failed"; cat "$OUT/$name.eval.json"; fail=1; }
}

printf '| task | data | model | metric | reel | reference | time to train |\n' > "$TABLE"
printf '|---|---|---|---|---|---|---|\n' >> "$TABLE"

# ---- sequence classification: Fashion-MNIST row by row -------------------------------------
A=$(args fashion-mnist "--set train.epochs=1 --set train.batch_size=32")
# shellcheck disable=SC2086
if train fashion-mnist configs/fashion-mnist.json $A; then
	# shellcheck disable=SC2086
	ev fashion-mnist configs/fashion-mnist.json best $(args fashion-mnist "")
	acc=$(json "$OUT/fashion-mnist.eval.json" accuracy)
	printf '| sequence classification | Fashion-MNIST (dataset-fashion-mnist), 28 rows of 28 pixels; official 10 000 test images | LSTM 128, last state, linear | test accuracy | %s | 0.888-0.897 (GRU+SVM, Agarap; Fashion-MNIST benchmark table, unverified submissions) | %s |\n' \
		"$(awk -v a="$acc" 'BEGIN { printf "%.4f", a }')" "$(mmss $secs)" >> "$TABLE"
fi

# ---- character language model: the Devil's Dictionary; the same model in PyTorch -------------
A=$(args devil-lm "--set train.epochs=0 --set train.steps=5")
# shellcheck disable=SC2086
if train devil-lm configs/devil-lm.json $A; then
	# shellcheck disable=SC2086
	# the last updates' parameters, as the PyTorch run reports
	ev devil-lm configs/devil-lm.json last $(args devil-lm "")
	bpc=$(json "$OUT/devil-lm.eval.json" bits_per_character)
	# shellcheck disable=SC2086
	"$REEL" sample configs/devil-lm.json --params "$OUT/devil-lm/last.safetensors" $(args devil-lm "") \
		--prime "CYNIC, n." --length 300 --temperature 0.7 --seed 3 > "$OUT/devil-lm.sample.txt" 2>&1
	ref="-"; tsecs=""
	if [ $TORCH = 0 ]; then
		echo "results: --no-torch: no PyTorch reference"
	elif "$PY" -c 'import torch' 2>/dev/null; then
		pyargs="--threads ${TORCH_THREADS:-1}"
		[ $QUICK = 1 ] && pyargs="$pyargs --max-steps 5 --path configs/data/quick/devil-head.txt.gz"
		t0=$(now)
		# shellcheck disable=SC2086
		if "$PY" bench/torch_charlm.py configs/devil-lm.json $pyargs > "$OUT/devil-lm.torch.json" 2> "$OUT/devil-lm.torch.log"; then
			tsecs=$(($(now) - t0))
			tb=$(json "$OUT/devil-lm.torch.json" test_bpc)
			ref="$tb (PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), same model, data, updates; $(mmss $tsecs))"
			echo "results: devil-lm in PyTorch: $(cat "$OUT/devil-lm.torch.json")"
			awk -v a="$bpc" -v b="$tb" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "results: |reel - PyTorch| = %.4f bpc (%s 0.02)\n", d, d <= 0.02 ? "within" : "NOT within" }'
		else
			echo "results: devil-lm: the PyTorch run failed"; tail -n 5 "$OUT/devil-lm.torch.log"; fail=1
		fi
	else
		echo "results: no PyTorch ($PY -c 'import torch' fails): the reference column stays empty"
	fi
	printf '| character LM | The Devil'"'"'s Dictionary (dict-devil, dictzip read with zlib), last 5%% held out | embedding 32, LSTM 256, dropout 0.1, linear; TBPTT 64 | test bits per character | %s | %s | %s |\n' \
		"$(awk -v a="$bpc" 'BEGIN { printf "%.4f", a }')" "$ref" "$(mmss $secs)" >> "$TABLE"
fi

# ---- time series: sunspots and Mackey-Glass, one step ahead, against persistence and AR --------
series() { # series NAME CONFIG DATA-TEXT MODEL-TEXT QUICK-EXTRA
	name=$1; cfg=$2; what=$3; model=$4
	A=$(args "$name" "$5")
	[ $QUICK = 1 ] && [ ! -f "configs/quick/$name.args" ] && A=$5
	# shellcheck disable=SC2086
	train "$name" "$cfg" $A || return
	q=""
	[ $QUICK = 1 ] && [ -f "configs/quick/$name.args" ] && q=$(cat "configs/quick/$name.args")
	# shellcheck disable=SC2086
	ev "$name" "$cfg" best $q
	# shellcheck disable=SC2086
	"$REEL" baseline "$cfg" $q --json > "$OUT/$name.baseline.json" 2>&1 || { echo "results: $name: baseline failed"; cat "$OUT/$name.baseline.json"; fail=1; return; }
	# shellcheck disable=SC2086
	"$REEL" predict "$cfg" --params "$OUT/$name/best.safetensors" $q --svg "$OUT/$name.predict.svg" > "$OUT/$name.predict.tsv" 2>&1 ||
		{ echo "results: $name: predict failed"; fail=1; }
	mse=$(json "$OUT/$name.eval.json" mse)
	pm=$(sed -n 's/.*"persistence": {"mse": \([-0-9.eE+]*\).*/\1/p' "$OUT/$name.baseline.json")
	ao=$(json "$OUT/$name.baseline.json" order)
	am=$(sed -n 's/.*"ar": {"order": [0-9]*, "mse": \([-0-9.eE+]*\).*/\1/p' "$OUT/$name.baseline.json")
	printf '| one-step forecast | %s | %s | test MSE%s | %s | persistence %s; linear AR(%s) %s | %s |\n' "$what" "$model" \
		"$( [ "$name" = sunspots ] && echo ' (z-scores)')" "$(awk -v a="$mse" 'BEGIN { printf "%.4g", a }')" \
		"$(awk -v a="$pm" 'BEGIN { printf "%.4g", a }')" "$ao" "$(awk -v a="$am" 'BEGIN { printf "%.4g", a }')" "$(mmss $secs)" >> "$TABLE"
}
series sunspots configs/sunspots.json "yearly sunspot numbers 1700-2008 (python3-statsmodels), window 24, last 15% test" \
	"GRU 32, last state, linear" "--set train.epochs=2"
series mackey-glass configs/mackey-glass.json "Mackey-Glass, tau 17, window 50 (generated), last 10% test" \
	"GRU 64, last state, linear" "--set train.steps=20 --set data.epoch_size=200 --set data.valid_size=50 --set data.test_size=50 --set train.valid_every=10"

# ---- grapheme-to-phoneme: CMUdict, attention, beam search ---------------------------------------
A=$(args g2p-cmudict "--set train.steps=5 --set train.valid_every=5 --set train.valid_batches=1")
# shellcheck disable=SC2086
if train g2p-cmudict configs/g2p-cmudict.json $A; then
	# shellcheck disable=SC2086
	ev g2p-cmudict configs/g2p-cmudict.json best $(args g2p-cmudict "")
	em=$(json "$OUT/g2p-cmudict.eval.json" exact_match)
	per=$(json "$OUT/g2p-cmudict.eval.json" character_error_rate)
	printf '| grapheme-to-phoneme | CMUdict (npm cmu-pronouncing-dictionary), first pronunciations, no stress; 5%% of words held out | BiLSTM 256 encoder, additive attention, LSTM decoder; beam 5 | test WER / PER | %s / %s | WER 0.20-0.26 (Rao et al. 2015, Yao & Zweig 2015; their setups differ) | %s |\n' \
		"$(awk -v a="$em" 'BEGIN { printf "%.3f", 1 - a }')" "$(awk -v a="$per" 'BEGIN { printf "%.3f", a }')" "$(mmss $secs)" >> "$TABLE"
fi

echo
cat "$TABLE"
[ $fail = 0 ] || { echo "results: some rows failed"; exit 1; }
