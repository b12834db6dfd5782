#!/bin/sh
# PyTorch interop tests (no Python needed): for seven models declared in
# test/interop/ (an lm, a classifier, a bidirectional 2-layer tagger, a
# seq2seq model with additive attention, a mean pool over non-zero padding,
# a ctc model with time-delay layers and a residual bidirectional GRU stack,
# a per-step mixture density output after a residual LSTM stack),
# `reel grad` in the double build on
# PyTorch's parameters and batch must give PyTorch's loss, outputs and
# gradients (test/gen_interop.py) to 1e-10 relative, element by element;
# `reel export` must print exactly the module the fixtures were computed with
# (test/interop/<name>_model.py) and refuse layer kinds PyTorch lacks;
# `reel train --init` must start from the PyTorch-written parameters exactly.
# Closes with "interop: N passed, M failed"; exits non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
REEL=${REEL:-build/f/reel}
REEL_D=${REEL_D:-build/d/reel}
STCMP=${STCMP:-build/stcmp}
I=test/interop
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-interop.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
SUITE=interop
. test/lib.sh

# ---- reel grad against PyTorch, in double, 1e-10 relative --------------------------------------
for m in lm classify tagger seq2seq pool tdnn mdn; do
	expect "$m: reel grad" 0 "wrote $tmp/$m.grad.safetensors" -- \
		"$REEL_D" grad "$I/$m.json" --params "$I/$m.params.safetensors" --batch "$I/$m.batch.safetensors" -o "$tmp/$m.grad.safetensors"
	expect "$m: reel grad = PyTorch (loss, outputs, every grad.<name>) to 1e-10 relative" 0 "stcmp: every tensor matches" -- \
		"$STCMP" "$tmp/$m.grad.safetensors" "$I/$m.expected.safetensors" --rtol 1e-10
done
# the comparison is not vacuous: at 1e-17 relative, rounding differences show, named
expect "stcmp names the worst element" 1 "FAILED" "worst element grad." -- \
	"$STCMP" "$tmp/seq2seq.grad.safetensors" "$I/seq2seq.expected.safetensors" --rtol 1e-17
expect "stcmp: different tensor sets" 1 "grad.0.weight: only in $I/lm.expected.safetensors" "grad.emb.weight: only in $tmp/classify.grad.safetensors" -- \
	"$STCMP" "$tmp/classify.grad.safetensors" "$I/lm.expected.safetensors"
expect "stcmp usage" 2 "usage: stcmp GOT EXPECTED" -- "$STCMP" only-one.safetensors

# ---- reel export: the committed modules, line for line --------------------------------------------
for m in lm classify tagger seq2seq pool tdnn mdn; do
	"$REEL" export "$I/$m.json" --params "$I/$m.params.safetensors" > "$tmp/${m}_model.py" 2> "$tmp/$m.err"
	rc=$?
	[ "$rc" = 0 ] && ok || bad "$m: reel export: exit $rc" "$(cat "$tmp/$m.err")"
	d=$(diff "$I/${m}_model.py" "$tmp/${m}_model.py") && ok || bad "$m: reel export differs from $I/${m}_model.py (the module the fixtures were computed with)" "$d"
done
expect "export lm: nn.Sequential names, layers, loss" 0 \
	'self.add_module("0", nn.Embedding(8, 5))' 'self.add_module("1", nn.LSTM(5, 4))' 'self.add_module("2", nn.Linear(4, 8))' \
	'x = run_rnn(self._modules["1"], x, lengths)  # (T, B, 4)' 'ignore_index=-100)' \
	'pack_padded_sequence(x, lengths.cpu().long(), enforce_sorted=False)' 'model.load_state_dict(load_safetensors(path))' \
	'path = sys.argv[1] if len(sys.argv) > 1 else "test/interop/lm.params.safetensors"' -- \
	"$REEL" export "$I/lm.json" --params "$I/lm.params.safetensors"
expect "export classify: GRU, masked mean pool" 0 \
	'self.add_module("emb", nn.Embedding(5, 4))' 'self.add_module("gru", nn.GRU(4, 5))' 'self.add_module("head", nn.Linear(5, 3))' \
	'x = pool(x, lengths, "mean")  # (B, 5)' 'return (x * mask).sum(0) * (1.0 / lengths.to(x.dtype)).unsqueeze(1)' -- \
	"$REEL" export "$I/classify.json"
expect "export tagger: stacked bidirectional LSTM, dropout" 0 \
	'self.add_module("rnn", nn.LSTM(4, 3, num_layers=2, bidirectional=True, dropout=0.3))' 'self.add_module("2", nn.Dropout(0.2))' \
	'x = self._modules["tags"](x)  # (T, B, 2)' -- "$REEL" export "$I/tagger.json"
expect "export seq2seq: encoder, decoder stepped by hand, attention, bridge" 0 \
	'self.encoder = nn.LSTM(4, 3, num_layers=2, bidirectional=True)' 'self.decoder = nn.LSTM(10, 6, num_layers=2)  # stepped by hand' \
	'self.attn = Attention("additive", 6, 6, 5)' 'self.combine = nn.Linear(12, 6, bias=False)' 'self.bridge_c = nn.Linear(6, 6)' \
	'h = torch.tanh(self.bridge_h(torch.cat([h_n[-2], h_n[-1]], 1)))' 'x = torch.cat([x, feed], 1)' \
	'hat = torch.tanh(self.combine(torch.cat([c, h], 1)))' 'ignore_index=self.pad)' -- "$REEL" export "$I/seq2seq.json"
expect "export: other options" 0 'self.add_module("gru", nn.RNN(4, 7, nonlinearity="relu", bias=False))' \
	'x = pool(x, lengths, "max")' 'return x.masked_fill(mask == 0, float("-inf")).amax(0)' 'self.add_module("head", nn.Linear(7, 3, bias=False))' -- \
	"$REEL" export "$I/classify.json" --set model.1.type=rnn --set model.1.nonlinearity=relu \
	--set model.1.bias=false --set model.1.hidden_size=7 --set model.2.mode=max --set model.3.bias=false
expect "export: activation" 0 'x = torch.sigmoid(x)  # (T, B, 6)' -- \
	"$REEL" export "$I/tagger.json" --set '/model/2={"type": "activation", "function": "sigmoid"}'
expect "export seq2seq: GRU, dot attention, no bridge, tied embeddings" 0 'self.encoder = nn.GRU(6, 6)' \
	'self.decoder = nn.GRU(12, 6, num_layers=2)' 'self.attn = Attention("dot", 6, 6, 5)' 'h = y.new_zeros(B, 6)' \
	'logits = nn.functional.linear(self.drop(hat), self.tgt_emb.weight, self.out.bias)' -- \
	"$REEL" export "$I/seq2seq.json" --set model.cell=gru --set model.encoder.num_layers=1 --set model.encoder.bidirectional=false \
	--set model.attention.type=dot --set model.decoder.bridge=false --set model.embedding_dim=6 --set model.decoder.tie_embeddings=true
expect "export tdnn: causal dilated conv1d, residual GRU stack, ctc loss" 0 \
	'self.add_module("td1", TDNN(8, 5, 3, 1, act="tanh"))' 'self.add_module("td2", TDNN(5, 4, 2, 2, bias=False))' \
	'self.add_module("rnn", nn.GRU(4, 3, num_layers=2, bidirectional=True))' \
	'self.residual["rnn"] = residual_layers(self._modules["rnn"])' 'x = run_residual(self.residual["rnn"], x, lengths)  # (T, B, 6)' \
	'w = self.weight.reshape(O, self.k, F).flip(1).permute(0, 2, 1)  # (O, F, k)' \
	'xp = nn.functional.pad(x.permute(1, 2, 0), ((self.k - 1) * self.d, 0))' 'x = y + x if l > 0 else y' \
	'return nn.functional.ctc_loss(outputs.log_softmax(-1), labels.t().clamp(min=0).long(), lengths.long(),' -- \
	"$REEL" export "$I/tdnn.json"
expect "export mdn: the mixture's parameters and negative log-likelihood" 0 \
	'mdn_components, mdn_outputs = 3, 1' 'self.add_module("mix", nn.Linear(4, 9))' \
	'return torch.softmax(a, -1), mu.unflatten(-1, (K, O)), s.exp().unflatten(-1, (K, O))' \
	'nll = -(torch.log_softmax(a, -1) + normal.log_prob(targets.unsqueeze(-2)).sum(-1)).logsumexp(-1)' \
	'return (nll * step_mask(lengths, nll.shape[0], nll)[:, :, 0]).sum() / lengths.sum()' -- "$REEL" export "$I/mdn.json"
expect "export mdn, one target per sequence: a mean over sequences" 0 'return nll.mean()' -- \
	"$REEL" export "$I/mdn.json" --set data.per_step=false --set '/model/1={"type": "pool", "mode": "last"}' \
	--set '/model/2={"type": "linear", "name": "td", "out_features": 4}'
expect "export refuses mgu" 1 'layer 1 ("gru", type mgu): PyTorch has no mgu layer; nothing was written' -- \
	"$REEL" export "$I/classify.json" --set model.1.type=mgu
out=$("$REEL" export "$I/classify.json" --set model.1.type=mgu 2>/dev/null)
[ -z "$out" ] && ok || bad "export of mgu printed source" "$out"
expect "export refuses an mgu seq2seq" 1 "the seq2seq model's cell is mgu: PyTorch has no such layer" -- \
	"$REEL" export "$I/seq2seq.json" --set model.cell=mgu
expect "export checks --params" 1 "missing: emb.weight (5x4)" "extra: 0.weight (8x5) is not a parameter of the model" -- \
	"$REEL" export "$I/classify.json" --params "$I/lm.params.safetensors"
expect "export --help" 0 "usage: reel export CONFIG" -- "$REEL" export --help

# ---- --init from the PyTorch-written parameters -------------------------------------------------------
# learning rate 0: after one update the checkpoint holds the initial parameters, which must be the file's, exactly
for m in lm classify tagger seq2seq pool tdnn mdn; do
	expect "$m: train --init from PyTorch's parameters" 0 "parameters initialised from $I/$m.params.safetensors" "trained 1 updates" -- \
		"$REEL" train "$I/$m.json" -o "$tmp/init-$m" --init "$I/$m.params.safetensors" --set train.steps=1 --set train.optimizer.lr=0 --show 0
	expect "$m: --init took every tensor exactly" 0 "stcmp: every tensor matches" -- \
		"$STCMP" "$tmp/init-$m/last.safetensors" "$I/$m.params.safetensors" --subset --rtol 0
done

summary
