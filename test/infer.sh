#!/bin/sh
# End-to-end tests of using a trained model: reel decode, sample, predict,
# eval's task metrics, plot, and the pictures reel train writes.  Models
# are trained a few steps (what they output is noise, but deterministic
# noise); the SVGs are checked by a parser (build/svgcheck), not by string
# compares.  Decoding through the CLI must give the tokens that decoding in
# the training process gave.  Closes with "infer: N passed, M failed".
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
SVGCHECK=${SVGCHECK:-build/svgcheck}
# Outputs compared across processes bitwise need one fixed choice of matrix
# product code: the planner's measured choice (engine/gemm_plan.c) may
# differ between two processes and round differently.
export REEL_GEMM=${REEL_GEMM:-blis}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-infer.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
SUITE=infer
. test/lib.sh

# svg NAME FILE [svgcheck options]: the file is well-formed SVG with what is asked
svg() {
	what=$1; f=$2; shift 2
	res=$("$SVGCHECK" "$f" --root svg "$@" 2>&1) && ok || bad "$what: $f" "$res"
}

# check NAME CONDITION-COMMAND... : a shell test
check() {
	what=$1; shift
	if "$@"; then ok; else bad "$what"; fi
}

few="--set train.steps=3 --set train.epochs=0 --set train.valid_every=3 --set train.valid_batches=1 --set train.log_every=1"
small="--set data.valid_size=40 --set data.test_size=40"
# dates after 40 quick steps: outputs that differ from source to source (not yet right)
d40="--set train.steps=40 --set train.valid_every=40 --set train.valid_batches=1 --set train.schedule.warmup_steps=0 --set train.optimizer.lr=0.01"

# ---- train writes pictures ------------------------------------------------------------
# shellcheck disable=SC2086
expect "dates: train writes loss.svg and attention.svg" 0 "loss curves: $tmp/dates/loss.svg" \
	"attention: $tmp/dates/attention.svg" -- "$REEL" train configs/dates-attention.json -o "$tmp/dates" $d40 $small --show 5
train_out=$out
svg "dates loss.svg" "$tmp/dates/loss.svg" --min polyline=2 --min circle=1 --min g=3 --text "step" --text "learning rate" --text "exact_match"
svg "dates attention.svg" "$tmp/dates/attention.svg" --min rect=20 --text "source" --text "output"
dates="configs/dates-attention.json"
ckpt="$tmp/dates/last.safetensors"

# ---- decode: the same tokens as the training process decoded --------------------------
# train --show printed '"SOURCE" -> "OUTPUT"  (...)' for the first validation examples
printf '%s\n' "$train_out" | sed -n 's/^"\(.*\)" -> "\(.*\)"  (.*$/\1/p' > "$tmp/src.txt"
printf '%s\n' "$train_out" | sed -n 's/^"\(.*\)" -> "\(.*\)"  (.*$/\2/p' > "$tmp/want.txt"
check "train --show printed 5 examples" [ "$(wc -l < "$tmp/src.txt")" = 5 ]
check "the 5 outputs are not all the same" [ "$(sort -u "$tmp/want.txt" | wc -l)" -ge 3 ]
# shellcheck disable=SC2086
"$REEL" decode "$dates" --params "$ckpt" $small --input "$tmp/src.txt" > "$tmp/got.txt" 2> "$tmp/err.txt"
if cmp -s "$tmp/want.txt" "$tmp/got.txt"; then ok; else
	bad "decode differs from the training process's decoding" "$(paste "$tmp/src.txt" "$tmp/want.txt" "$tmp/got.txt"; cat "$tmp/err.txt")"; fi
# ... and from stdin
# shellcheck disable=SC2086
"$REEL" decode "$dates" --params "$ckpt" $small < "$tmp/src.txt" > "$tmp/got2.txt" 2>&1
check "decode from stdin equals decode --input" cmp -s "$tmp/got.txt" "$tmp/got2.txt"
# a beam of 1 is greedy
# shellcheck disable=SC2086
"$REEL" decode "$dates" --params "$ckpt" $small --beam 1 < "$tmp/src.txt" > "$tmp/got3.txt" 2>&1
check "--beam 1 equals greedy" cmp -s "$tmp/got.txt" "$tmp/got3.txt"
# beam search in the training process (decode.beam in the config) and through the CLI
# shellcheck disable=SC2086
expect "dates: train with beam 3" 0 "trained 40 updates" -- "$REEL" train "$dates" -o "$tmp/dates-beam" $d40 $small --show 5 \
	--set decode.beam=3
printf '%s\n' "$out" | sed -n 's/^"\(.*\)" -> "\(.*\)"  (.*$/\1/p' > "$tmp/bsrc.txt"
printf '%s\n' "$out" | sed -n 's/^"\(.*\)" -> "\(.*\)"  (.*$/\2/p' > "$tmp/bwant.txt"
# shellcheck disable=SC2086
"$REEL" decode "$dates" --params "$tmp/dates-beam/last.safetensors" $small --beam 3 --input "$tmp/bsrc.txt" > "$tmp/bgot.txt" 2>&1
if cmp -s "$tmp/bwant.txt" "$tmp/bgot.txt"; then ok; else
	bad "beam decode differs from the training process's" "$(paste "$tmp/bwant.txt" "$tmp/bgot.txt")"; fi

# ---- decode: output formats -------------------------------------------------------------
printf 'MARCH 3, 1972\n\n12/25/2020\n' > "$tmp/in.txt"
expect "decode: one line per non-blank source" 0 -- "$REEL" decode "$dates" --params "$ckpt" --input "$tmp/in.txt"
check "decode: 2 output lines" [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]
expect "decode --scores" 0 -- "$REEL" decode "$dates" --params "$ckpt" --input "$tmp/in.txt" --scores
check "decode --scores: OUTPUT<TAB>SCORE" [ "$(printf '%s\n' "$out" | grep -cE '^[^	]*	-[0-9]+\.[0-9]{4}$')" = 2 ]
expect "decode --beam --n-best" 0 -- "$REEL" decode "$dates" --params "$ckpt" --input "$tmp/in.txt" --beam 4 --n-best 3 --scores --length-penalty 0.6
check "decode --n-best 3: LINE<TAB>RANK<TAB>OUTPUT<TAB>SCORE" \
	[ "$(printf '%s\n' "$out" | grep -cE '^[12]	[123]	[^	]*	-[0-9.]+$')" = 6 ]
best=$(printf '%s\n' "$out" | awk -F'\t' '$1 == 1 { print $4 }')
check "decode --n-best: ranks in order of score" [ "$(printf '%s\n' "$best" | sort -rn | tr '\n' ' ')" = "$(printf '%s\n' "$best" | tr '\n' ' ')" ]
expect "decode --attention" 0 '"MARCH 3, 1972" -> "' "      MARCH_3,_1972" -- \
	"$REEL" decode "$dates" --params "$ckpt" --input "$tmp/in.txt" --attention --attention-svg "$tmp/attn.svg"
svg "decode --attention-svg" "$tmp/attn.svg" --min rect=13 --text "M" --text "1"

# ---- decode: errors -----------------------------------------------------------------------
expect "decode: missing checkpoint" 1 "$tmp/none.safetensors: cannot open" -- \
	"$REEL" decode "$dates" --params "$tmp/none.safetensors" --input "$tmp/in.txt"
expect "decode: without --params" 2 "decode needs --params FILE" -- "$REEL" decode "$dates" --input "$tmp/in.txt"
expect "decode: empty input" 2 "is empty" -- "$REEL" decode "$dates" --params "$ckpt" --input /dev/null
printf '\n  \n' > "$tmp/blank.txt"
expect "decode: blank input" 2 "is empty" -- "$REEL" decode "$dates" --params "$ckpt" --input "$tmp/blank.txt"
expect "decode: missing input file" 1 "nope.txt: cannot open" -- "$REEL" decode "$dates" --params "$ckpt" --input "$tmp/nope.txt"
printf 'MARCH 3, 1972\n12 \342\202\254 2020\n' > "$tmp/unk.txt"
expect "decode: a character outside a vocabulary without <unk>" 1 'source 2: "' 'is not in the input vocabulary of dates' -- \
	"$REEL" decode "$dates" --params "$ckpt" --input "$tmp/unk.txt"
expect "decode: --n-best wider than the beam" 2 "--n-best 3 needs a beam" -- \
	"$REEL" decode "$dates" --params "$ckpt" --input "$tmp/in.txt" --beam 2 --n-best 3
expect "decode: bad --beam" 2 "--beam: expected an integer" -- "$REEL" decode "$dates" --params "$ckpt" --beam 0

# ---- language model: sample, eval ------------------------------------------------------------
# shellcheck disable=SC2086
expect "char-lm: train" 0 "trained 3 updates" "loss curves:" -- "$REEL" train configs/char-lm.json -o "$tmp/lm" $few
lm="configs/char-lm.json"; lmp="$tmp/lm/last.safetensors"
svg "char-lm loss.svg" "$tmp/lm/loss.svg" --min polyline=2 --text "perplexity"
expect "sample" 0 -- "$REEL" sample "$lm" --params "$lmp" --length 60 --seed 7
s1=$out
expect "sample: the same seed" 0 -- "$REEL" sample "$lm" --params "$lmp" --length 60 --seed 7
check "sample: the same seed gives the same text" [ "$s1" = "$out" ]
expect "sample: another seed" 0 -- "$REEL" sample "$lm" --params "$lmp" --length 60 --seed 8
check "sample: another seed gives other text" [ "$s1" != "$out" ]
expect "sample --prime" 0 -- "$REEL" sample "$lm" --params "$lmp" --prime "The cynic" --length 20 --top-k 5 --temperature 0.8
check "sample --prime: the output starts with the prime" [ "${out#The cynic}" != "$out" ]
check "sample --length 20: prime + 20 characters" [ "$(printf '%s' "$out" | wc -m)" = 29 ]
expect "sample --temperature 0 (argmax) is the same for any seed" 0 -- "$REEL" sample "$lm" --params "$lmp" --temperature 0 --length 30 --seed 1
a0=$out
expect "sample --temperature 0, seed 2" 0 -- "$REEL" sample "$lm" --params "$lmp" --temperature 0 --length 30 --seed 2
check "sample --temperature 0: seed-independent" [ "$a0" = "$out" ]
expect "sample on a seq2seq model" 2 "sample serves language (lm) models; $dates is a seq2seq model" -- \
	"$REEL" sample "$dates" --params "$ckpt"
expect "decode on a language model" 2 "decode serves seq2seq and ctc models" -- "$REEL" decode "$lm" --params "$lmp" --input "$tmp/in.txt"
expect "sample: checkpoint of another config" 1 "emb.weight" -- "$REEL" sample "$lm" --params "$lmp" --set model.0.embedding_dim=8
expect "eval lm" 0 "valid: loss " "perplexity " "bits_per_token " "bits_per_character " -- "$REEL" eval "$lm" --params "$lmp" --split valid
expect "eval lm --json" 0 '{"split": "valid", "loss": ' '"perplexity": ' '"bits_per_character": ' -- \
	"$REEL" eval "$lm" --params "$lmp" --split valid --json

# ---- seq2seq eval ----------------------------------------------------------------------------
# shellcheck disable=SC2086
expect "eval seq2seq" 0 "test: loss " "exact_match " "token_accuracy " "character_error_rate " -- \
	"$REEL" eval "$dates" --params "$ckpt" $small
# shellcheck disable=SC2086
expect "eval seq2seq --json" 0 '"exact_match": ' '"character_error_rate": ' -- "$REEL" eval "$dates" --params "$ckpt" $small --json
expect "eval: checkpoint of another config" 1 "src_emb.weight" -- \
	"$REEL" eval "$dates" --params "$lmp"

# ---- classify ---------------------------------------------------------------------------------
cls="configs/brackets-classifier.json"
# shellcheck disable=SC2086
expect "brackets: train" 0 "trained 3 updates" -- "$REEL" train "$cls" -o "$tmp/cls" $few
clp="$tmp/cls/last.safetensors"
printf '(()[])\nbalanced\t)(\n\n[[\n' > "$tmp/br.txt"
expect "predict classify" 0 -- "$REEL" predict "$cls" --params "$clp" --input "$tmp/br.txt"
check "predict classify: one label per line" [ "$(printf '%s\n' "$out" | grep -cxE 'balanced|unbalanced')" = 3 ]
expect "predict classify --probs" 0 -- "$REEL" predict "$cls" --params "$clp" --input "$tmp/br.txt" --probs
check "predict --probs: LABEL<TAB>balanced=p unbalanced=p" \
	[ "$(printf '%s\n' "$out" | grep -cE '^(un)?balanced	balanced=0\.[0-9]{4} unbalanced=0\.[0-9]{4}$')" = 3 ]
expect "predict classify over a split" 0 -- "$REEL" predict "$cls" --params "$clp" --split valid
check "predict over a split: PREDICTED<TAB>ACTUAL" [ "$(printf '%s\n' "$out" | grep -cvE '^(un)?balanced	(un)?balanced$')" = 0 ]
expect "predict: empty input" 2 "is empty" -- "$REEL" predict "$cls" --params "$clp" --input /dev/null
expect "predict: checkpoint of another config" 1 "rnn.weight_ih_l0" -- "$REEL" predict "$cls" --params "$clp" --input "$tmp/br.txt" \
	--set model.1.hidden_size=8
expect "eval classify" 0 "test: loss " "accuracy " "confusion matrix (rows: actual, columns: predicted):" "  balanced " -- \
	"$REEL" eval "$cls" --params "$clp"
n_rows=$(printf '%s\n' "$out" | grep -cE '^  (un)?balanced +[0-9]+ +[0-9]+$')
check "eval classify: a 2x2 confusion matrix" [ "$n_rows" = 2 ]
expect "eval classify --json" 0 '"labels": ["balanced", "unbalanced"]' '"confusion": [[' -- "$REEL" eval "$cls" --params "$clp" --json

# ---- tag ----------------------------------------------------------------------------------------
tag="configs/date-tagger.json"
# shellcheck disable=SC2086
expect "date-tagger: train" 0 "trained 3 updates" -- "$REEL" train "$tag" -o "$tmp/tag" $few
tgp="$tmp/tag/last.safetensors"
printf '12/25/2020\n' > "$tmp/dt.txt"
expect "predict tag" 0 -- "$REEL" predict "$tag" --params "$tgp" --input "$tmp/dt.txt"
check "predict tag: one tag per character" [ "$(printf '%s' "$out" | wc -w)" = 10 ]
expect "predict tag --probs" 0 -- "$REEL" predict "$tag" --params "$tgp" --input "$tmp/dt.txt" --probs
check "predict tag --probs: TAG:p" [ "$(printf '%s\n' "$out" | tr ' ' '\n' | grep -cE '^[A-Z]:[01]\.[0-9]{3}$')" = 10 ]
expect "eval tag" 0 "per-tag accuracy:" "confusion matrix" -- "$REEL" eval "$tag" --params "$tgp" --split valid
expect "eval tag --json" 0 '"per_tag_accuracy": {' -- "$REEL" eval "$tag" --params "$tgp" --split valid --json

# ---- regress --------------------------------------------------------------------------------------
mg="configs/mackey-glass.json"
# shellcheck disable=SC2086
expect "mackey-glass: train" 0 "trained 3 updates" -- "$REEL" train "$mg" -o "$tmp/mg" $few --set data.test_size=100
mgp="$tmp/mg/last.safetensors"
expect "predict regress --svg" 0 -- "$REEL" predict "$mg" --params "$mgp" --set data.test_size=100 --svg "$tmp/mg.svg"
check "predict regress: 100 lines PREDICTED<TAB>ACTUAL" \
	[ "$(printf '%s\n' "$out" | grep -cE '^-?[0-9.e+-]+	-?[0-9.e+-]+$')" = 100 ]
svg "predict --svg" "$tmp/mg.svg" --min polyline=2 --text "predicted" --text "actual"
expect "eval regress" 0 "test: loss " "mse " "mae " "r2 " -- "$REEL" eval "$mg" --params "$mgp" --set data.test_size=100
expect "eval regress --json" 0 '"r2": ' -- "$REEL" eval "$mg" --params "$mgp" --set data.test_size=100 --json
expect "predict --input on a series" 2 "predict over a split" -- "$REEL" predict "$mg" --params "$mgp" --input "$tmp/in.txt"
expect "predict on seq2seq" 2 "predict serves classify, tag, regress and ctc" -- "$REEL" predict "$dates" --params "$ckpt"

# ---- ctc: greedy and beam decodings of a split ----------------------------------------------------
# 60 quick updates: decodings partly right (a label error rate between 0 and 1)
ctc="configs/ctc-unsegmented.json"
cs="--set data.valid_size=40 --set data.test_size=40 --set model.0.hidden_size=16 --set train.batch_size=16"
# shellcheck disable=SC2086
expect "ctc: train 60 updates" 0 "trained 60 updates" -- "$REEL" train "$ctc" -o "$tmp/ctc" $cs --set train.steps=60 \
	--set train.valid_every=60 --set train.optimizer.lr=0.02
ctp="$tmp/ctc/last.safetensors"
# shellcheck disable=SC2086
"$REEL" predict "$ctc" --params "$ctp" $cs --split valid > "$tmp/ctc-pred.txt" 2> "$tmp/err.txt"
check "ctc predict: 40 lines DECODED<TAB>ACTUAL of letters a-e" \
	[ "$(grep -cE '^([a-e]( [a-e])*)?	[a-e]( [a-e])*$' "$tmp/ctc-pred.txt")" = 40 ]
check "ctc predict: some decodings right, some wrong" \
	[ "$(awk -F'\t' '$1 == $2' "$tmp/ctc-pred.txt" | wc -l)" -ge 5 -a "$(awk -F'\t' '$1 != $2' "$tmp/ctc-pred.txt" | wc -l)" -ge 3 ]
# the label error rate of the printed decodings (edit distance / reference labels) is eval's, which
# decodes with the engine's reel_ctc_greedy inside the loss
ler=$(awk -F'\t' '{
	n = split($1, a, " "); m = split($2, b, " ")
	for (j = 0; j <= m; j++) d[0, j] = j
	for (i = 1; i <= n; i++) {
		d[i, 0] = i
		for (j = 1; j <= m; j++) {
			c = d[i - 1, j - 1] + (a[i] != b[j]); if (d[i - 1, j] + 1 < c) c = d[i - 1, j] + 1
			if (d[i, j - 1] + 1 < c) c = d[i, j - 1] + 1; d[i, j] = c
		}
	}
	e += d[n, m]; r += m
} END { printf "%.6f", e / r }' "$tmp/ctc-pred.txt")
# shellcheck disable=SC2086
want=$("$REEL" eval "$ctc" --params "$ctp" $cs --split valid --json | sed -n 's/.*"label_error_rate": \([0-9.e-]*\).*/\1/p')
want=$(awk -v w="$want" 'BEGIN { printf "%.6f", w }')
if [ "$ler" = "$want" ] && [ "$ler" != "0.000000" ]; then ok; else
	bad "ctc predict's decodings give label error rate $ler, eval says $want" "$(cat "$tmp/ctc-pred.txt" "$tmp/err.txt")"; fi
# shellcheck disable=SC2086
"$REEL" decode "$ctc" --params "$ctp" $cs --split valid > "$tmp/ctc-dec.txt" 2>&1
check "ctc decode (greedy) equals predict" cmp -s "$tmp/ctc-pred.txt" "$tmp/ctc-dec.txt"
# shellcheck disable=SC2086
"$REEL" decode "$ctc" --params "$ctp" $cs --split valid --beam 1 > "$tmp/ctc-dec1.txt" 2>&1
check "ctc decode --beam 1 is greedy" cmp -s "$tmp/ctc-pred.txt" "$tmp/ctc-dec1.txt"
# shellcheck disable=SC2086
expect "ctc decode --beam 8 --n-best 3 --scores" 0 -- "$REEL" decode "$ctc" --params "$ctp" $cs --split valid --beam 8 --n-best 3 --scores
printf '%s\n' "$out" > "$tmp/ctc-beam.txt"
check "ctc beam: 120 lines EXAMPLE<TAB>RANK<TAB>DECODED<TAB>ACTUAL<TAB>SCORE" \
	[ "$(grep -cE '^[0-9]+	[123]	([a-e]( [a-e])*)?	[a-e]( [a-e])*	-[0-9]+\.[0-9]{4}$' "$tmp/ctc-beam.txt")" = 120 ]
check "ctc beam: examples 1..40, ranks 1..3 with scores not increasing, three different decodings" \
	[ "$(awk -F'\t' '$2 != (NR - 1) % 3 + 1 || $1 != int((NR - 1) / 3) + 1 || ($2 > 1 && ($5 > s || $3 == p)) { print NR }
		{ s = $5; p = $3 }' "$tmp/ctc-beam.txt" | wc -l)" = 0 ]
check "ctc beam: the actual labels are predict's" \
	[ "$(awk -F'\t' '$2 == 1 { print $4 }' "$tmp/ctc-beam.txt")" = "$(cut -f2 "$tmp/ctc-pred.txt")" ]
# the beam's best labelling is at least as probable as the best path alone (greedy's score)
# shellcheck disable=SC2086
"$REEL" decode "$ctc" --params "$ctp" $cs --split valid --scores > "$tmp/ctc-gs.txt" 2>&1
check "ctc beam: best labelling's log-probability >= the best path's" \
	[ "$(awk -F'\t' '$2 == 1 { print $5 }' "$tmp/ctc-beam.txt" | paste - "$tmp/ctc-gs.txt" | awk -F'\t' '$1 < $4 - 1e-4' | wc -l)" = 0 ]
# shellcheck disable=SC2086
expect "ctc decode --input" 2 "--input does not apply to ctc models" "--split valid|test" -- "$REEL" decode "$ctc" --params "$ctp" $cs --input "$tmp/in.txt"
# shellcheck disable=SC2086
expect "ctc decode --attention" 2 "--attention does not apply to ctc models" -- "$REEL" decode "$ctc" --params "$ctp" $cs --attention
# shellcheck disable=SC2086
expect "ctc decode --n-best above the beam" 2 "--n-best 3 needs a beam at least as wide (--beam 2)" -- "$REEL" decode "$ctc" --params "$ctp" $cs --beam 2 --n-best 3
# shellcheck disable=SC2086
expect "ctc predict --probs" 2 "--probs does not apply to ctc models" -- "$REEL" predict "$ctc" --params "$ctp" $cs --probs

# ---- plot -------------------------------------------------------------------------------------------
expect "plot one run" 0 "wrote $tmp/cls/loss.svg" -- "$REEL" plot "$tmp/cls"
svg "plot one run" "$tmp/cls/loss.svg" --min polyline=3 --text "accuracy (%)"
expect "plot several runs" 0 "wrote $tmp/runs.svg" -- "$REEL" plot "$tmp/dates" "$tmp/dates-beam" "$tmp/lm" -o "$tmp/runs.svg"
svg "plot several runs" "$tmp/runs.svg" --min polyline=7 --text "dates train" --text "dates-beam valid" --text "lm train"
expect "plot: no metrics.jsonl" 2 "$tmp/nope/metrics.jsonl: cannot open" -- "$REEL" plot "$tmp/nope"
expect "plot: no DIR" 2 "plot needs a run DIR" -- "$REEL" plot

summary
