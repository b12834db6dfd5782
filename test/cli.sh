#!/bin/sh
# End-to-end tests of the reel program: every config in configs/ is checked,
# trained a few steps, evaluated from its checkpoint; malformed configs and
# bad usage give the documented messages and exit codes.  Closes with
# "cli: N passed, M failed" and exits non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
SUITE=cli
. test/lib.sh

# ---- usage ----------------------------------------------------------------------
expect "--version" 0 "reel " -- "$REEL" --version
expect "--help" 0 "usage: reel <verb>" "train CONFIG" -- "$REEL" --help
expect "verb --help" 0 "usage: reel train CONFIG" "--set path=value" -- "$REEL" train --help
expect "unknown verb" 2 "unknown verb \"trian\"" -- "$REEL" trian x.json
expect "missing config" 2 "train needs a CONFIG file" -- "$REEL" train
expect "unknown option" 2 "unknown option --bogus" -- "$REEL" info configs/adding-problem.json --bogus
expect "option without value" 2 "--set needs a value" -- "$REEL" info configs/adding-problem.json --set
expect "missing config file" 2 "nope.json: cannot open" -- "$REEL" info nope.json
expect "eval without params" 2 "eval needs --params" -- "$REEL" eval configs/adding-problem.json
expect "list" 0 "layer types" "lstm" "hidden_size" "recurrent_dropout" "pool" "train.optimizer" "warmup_steps" -- "$REEL" list
expect "list: a layer type per registered cell" 0 "indrnn " "peephole_lstm " "ln_lstm " "mgu " "rnn_relu " "Li et al. 2018" -- "$REEL" list

expect "configs/README.md documents every key (make docs)" 0 -- sh test/reel_list_doc.sh "$REEL" --check

# ---- every config (and every cell in configs/cells/): check, a few steps of training, eval ----
# Configs of the real data sets read the cache `make data` fills; here they
# read the small committed slices named in configs/quick/NAME.args instead
# (no cache, no network), as `make results QUICK=1` does.
for cfg in configs/*.json configs/cells/*.json; do
	name=$(basename "$cfg" .json)
	q=""
	[ -f "configs/quick/$name.args" ] && q=$(cat "configs/quick/$name.args")
	few="$q --set train.steps=3 --set train.epochs=0 --set train.valid_every=3 --set train.valid_batches=1 --set train.log_every=1"
	# shellcheck disable=SC2086
	expect "$name: check" 0 ": ok (task" -- "$REEL" check "$cfg" $q
	# shellcheck disable=SC2086
	expect "$name: info" 0 "total parameters:" "memory estimate:" -- "$REEL" info "$cfg" $q
	# shellcheck disable=SC2086
	expect "$name: train 3 steps" 0 "trained 3 updates" "wrote $tmp/$name/" -- "$REEL" train "$cfg" -o "$tmp/$name" $few --show 1
	for f in config.json metrics.jsonl last.safetensors best.safetensors; do
		[ -s "$tmp/$name/$f" ] && ok || bad "$name: $f not written"
	done
	[ "$(grep -c '"loss"' "$tmp/$name/metrics.jsonl")" = 3 ] && ok || bad "$name: metrics.jsonl lacks 3 step lines" "$(cat "$tmp/$name/metrics.jsonl")"
	grep -q '"valid_loss"' "$tmp/$name/metrics.jsonl" && ok || bad "$name: metrics.jsonl lacks a validation line"
	grep -q '"auto"' "$tmp/$name/config.json" && bad "$name: resolved config still says auto" "$(cat "$tmp/$name/config.json")" || ok
	# shellcheck disable=SC2086
	expect "$name: gradcheck (double build)" 0 "gradcheck: every parameter ok" -- "${REEL_D:-build/d/reel}" gradcheck "$cfg" $q --set train.batch_size=2 --per-param 3
	# shellcheck disable=SC2086
	expect "$name: eval" 0 "valid: loss" -- "$REEL" eval "$cfg" $q --params "$tmp/$name/last.safetensors" --split valid --set train.valid_batches=1
done

# ---- eval --free-run: forecasts from the model's own outputs (trained 3 steps above) ----------
nx="$tmp/mackey-glass-narx/last.safetensors"
expect "eval --free-run" 0 "free running, 5 steps after a warm-up of 46 true values (64 windows): mse at 1 step" "mean over 1..5" -- \
	"$REEL" eval configs/mackey-glass-narx.json --params "$nx" --split valid --free-run 5 --set data.valid_size=64
expect "eval --free-run --json" 0 '"free_run": {"horizon": 2, "warmup": 49, "windows": 16, "mse_mean": ' -- \
	"$REEL" eval configs/mackey-glass-narx.json --params "$nx" --split valid --free-run 2 --set data.valid_size=16 --json
expect "eval --free-run beyond the window" 2 "forecast: the horizon must be in [1, 50] (the window), found 51" -- \
	"$REEL" eval configs/mackey-glass-narx.json --params "$nx" --split valid --free-run 51
expect "eval --free-run of last-step targets" 2 "forecast: free running needs a regress task with real inputs and a target per step" -- \
	"$REEL" eval configs/adding-problem.json --params "$tmp/adding-problem/last.safetensors" --free-run 3
expect "export refuses narx" 1 'export: layer 0 ("narx", type narx): output recurrence' "nothing was written" -- \
	"$REEL" export configs/mackey-glass-narx.json

# ---- the run directory ------------------------------------------------------------------
expect "non-empty run directory" 2 "not empty" "--force" -- "$REEL" train configs/adding-problem.json -o "$tmp/adding-problem" --set train.steps=1
expect "--force" 0 "trained 1 updates" -- "$REEL" train configs/adding-problem.json -o "$tmp/adding-problem" --force --set train.steps=1 --set train.valid_batches=1
expect "eval --json" 0 '{"split": "valid", "loss": ' '"mse": ' -- "$REEL" eval configs/adding-problem.json --params "$tmp/adding-problem/last.safetensors" --split valid --json
expect "eval of another architecture" 1 "rnn.weight_ih_l0" -- "$REEL" eval configs/adding-problem.json --params "$tmp/adding-problem/last.safetensors" --set model.0.hidden_size=32

# ---- resume and non-finite losses ----------------------------------------------------------
few="--set train.steps=6 --set train.valid_every=3 --set train.valid_batches=1"
# shellcheck disable=SC2086
expect "train for resume" 0 "trained 6 updates" -- "$REEL" train configs/adding-problem.json -o "$tmp/res" $few
# shellcheck disable=SC2086
expect "resume a finished run" 0 "the run already finished (6 updates" -- "$REEL" train configs/adding-problem.json -o "$tmp/res" --resume $few
expect "resume with more steps" 0 "resuming with changed training settings" "/train/steps: 6 -> 9" "resuming $tmp/res at update 6" "trained 9 updates" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/res" --resume --set train.steps=9 --set train.valid_every=3 --set train.valid_batches=1
expect "resume another architecture" 2 "/model/0/hidden_size: 64 -> 32" "cannot resume: 2 keys" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/res" --resume --set train.steps=12 --set model.0.hidden_size=32
head -c 300 "$tmp/res/last.safetensors" > "$tmp/trunc.safetensors"
mkdir -p "$tmp/res-trunc" && cp "$tmp/trunc.safetensors" "$tmp/res-trunc/last.safetensors"
expect "resume from a truncated checkpoint" 1 "$tmp/res-trunc/last.safetensors" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/res-trunc" --resume --set train.steps=12
expect "eval of a truncated checkpoint" 1 "$tmp/trunc.safetensors" -- \
	"$REEL" eval configs/adding-problem.json --params "$tmp/trunc.safetensors"
printf 'not a checkpoint at all' > "$tmp/junk.safetensors"
expect "--init from a corrupted file" 1 "$tmp/junk.safetensors" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/junk" --init "$tmp/junk.safetensors" --set train.steps=1
expect "resume without a checkpoint" 2 "no checkpoint to resume from" -- "$REEL" train configs/adding-problem.json -o "$tmp/none" --resume
expect "--resume with --force" 2 "--resume and --force exclude each other" -- "$REEL" train configs/adding-problem.json -o "$tmp/res" --resume --force
boom="--set model.0.type=rnn --set model.0.nonlinearity=relu --set train.optimizer.type=sgd --set train.optimizer.lr=1000 --set train.checkpoint_every=1"
# shellcheck disable=SC2086
expect "non-finite loss stops" 1 "step 2: optimizer sgd: non-finite value in the loss" "training stopped" -- "$REEL" train configs/adding-problem.json -o "$tmp/boom" $boom --set train.steps=20
# shellcheck disable=SC2086
expect "non-finite loss skipped" 0 "trained 5 updates" "4 of them skipped for non-finite values" -- "$REEL" train configs/adding-problem.json -o "$tmp/skip" $boom --set train.steps=5 --set train.on_nonfinite=skip --set train.valid_batches=1

# ---- --init from a state_dict file -------------------------------------------------------------
expect "--init from a checkpoint" 0 "parameters initialised from $tmp/adding-problem/last.safetensors" "trained 1 updates" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/init" --init "$tmp/adding-problem/last.safetensors" --set train.steps=1 --set train.valid_batches=1
expect "--init with a prefix map" 1 "missing: net.weight_ih_l0 (256x2)" "extra: rnn.weight_ih_l0 (256x2) is not a parameter" "tensors do not match the model under --init-prefix net.=rnn." -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/init2" --init "$tmp/adding-problem/last.safetensors" --init-prefix net.=rnn. --set train.steps=1
expect "--init of another shape" 1 "misshapen: rnn.weight_hh_l0 is 256x64 in the file, 128x32 in the model" -- \
	"$REEL" train configs/adding-problem.json -o "$tmp/init3" --init "$tmp/adding-problem/last.safetensors" --set model.0.hidden_size=32 --set train.steps=1

# ---- baseline: persistence and AR forecasts of series configs ---------------------------------
expect "baseline" 0 "test: horizon 1  persistence mse" "AR(3) mse" -- "$REEL" baseline configs/mackey-glass.json --order 3
# shellcheck disable=SC2046
expect "baseline --json" 0 '{"split": "valid", "horizon": 1, "persistence": {"mse": ' '"ar": {"order": ' -- \
	"$REEL" baseline configs/sunspots.json $(cat configs/quick/sunspots.args) --json --split valid
expect "baseline of a classifier" 2 "baseline: forecasting baselines need a regress task" -- "$REEL" baseline configs/brackets-classifier.json
expect "baseline order above the window" 2 "AR order 60 exceeds the window (50)" -- "$REEL" baseline configs/mackey-glass.json --order 60

# ---- make results QUICK=1: every row of the results table on the committed slices --------------
expect "results --quick" 0 "| sequence classification | Fashion-MNIST" "| character LM |" "| one-step forecast | yearly sunspot" \
	"| one-step forecast | Mackey-Glass" "persistence " "linear AR(" "| grapheme-to-phoneme | CMUdict" -- env REEL="$REEL" RESULTS_OUT="$tmp/results" sh results/results.sh --quick --no-torch
[ -s "$tmp/results/sunspots.predict.svg" ] && [ -s "$tmp/results/devil-lm.sample.txt" ] && ok || bad "results --quick: no prediction SVG or samples"

# ---- --set ---------------------------------------------------------------------------------
expect "--set changes the model" 0 "rnn.weight_hh_l0" "128x32" -- "$REEL" info configs/adding-problem.json --set model.0.hidden_size=32
expect "--set by JSON Pointer" 0 "rnn.weight_hh_l0" "64x16" -- "$REEL" info configs/adding-problem.json --set /model/0/hidden_size=16
expect "--set is checked" 2 "configs/adding-problem.json: /model/0/hidden_size: expected an integer in [1, 65536], found \"big\"" -- "$REEL" info configs/adding-problem.json --set model.0.hidden_size=big
expect "--set unknown key" 2 "/train/optimizer/learning_rate: unknown key" -- "$REEL" check configs/adding-problem.json --set train.optimizer.learning_rate=1
expect "--set bad path" 2 "--set train.steps.x=1: /train/steps is not an object or array" -- "$REEL" check configs/adding-problem.json --set train.steps.x=1
expect "text max_vocab below 3" 2 "configs/word-lm.json: /data/max_vocab: expected 0 (every token) or at least 3 (<pad>, <unk> and a token), found 2" -- "$REEL" check configs/word-lm.json --set data.max_vocab=2
expect "max_vocab on a csv source" 2 "/data/max_vocab: unknown key" -- "$REEL" check configs/load-forecast.json --set data.max_vocab=100

# ---- malformed configs: every error class, with its message --------------------------------
for f in test/configs/*.json; do
	name=$(basename "$f" .json)
	want="test/configs/$name.expect"
	[ -f "$want" ] || { bad "$name: no $want"; continue; }
	out=$("$REEL" check "$f" 2>&1); rc=$?
	[ "$rc" = 2 ] && ok || bad "$name: exit $rc, expected 2" "$out"
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		printf '%s\n' "$out" | grep -qF -- "$line" && ok || bad "$name: output lacks: $line" "$out"
	done < "$want"
done

summary
