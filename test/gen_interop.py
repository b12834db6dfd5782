"""PyTorch fixtures for `reel grad` and `reel export` (test/interop.sh).

Five models, each declared by a config in test/interop/ over a small data
file there (so the vocabularies are known): an lm (embedding, LSTM, linear),
a classifier (embedding, GRU, mean pool, linear; variable lengths), a
bidirectional 2-layer LSTM tagger (variable lengths), a seq2seq model
(bidirectional 2-layer LSTM encoder, additive attention, 2-layer decoder
with input feeding and a bridge), and "pool" (embedding, linear, sigmoid,
mean pool, linear: padded steps are not zero before the pool).

The PyTorch model of each is not written here: it is the text `reel export`
printed, committed as test/interop/<name>_model.py and executed as is, so the
fixture also proves the exported module loads reel's parameter names and
computes reel's function.  For each model this writes, in test/interop/:
  <name>.params.safetensors    seeded parameters (float32-representable, F32)
  <name>.batch.safetensors     one batch in `reel grad`'s format
  <name>.expected.safetensors  loss, outputs (not seq2seq) and grad.<name>,
                               computed by PyTorch in float64 after loading
                               the params file back with load_state_dict.
The loss is reel's: mean cross-entropy over labels != -100, or over non-pad
target tokens for seq2seq with teacher forcing 1 (the module's reel_loss).

Two more (issue 18) draw from a seed of their own: "tdnn" (ctc over frames:
two time-delay layers, a residual bidirectional 2-layer GRU, a linear head;
the loss PyTorch's ctc_loss) and "mdn" (per-step regress: a residual 3-layer
LSTM, relu, a time-delay layer, a mixture density output; the loss the
mixture's negative log-likelihood within each length).

Regenerate (Debian's python3-torch; run from the repository root; names on
the command line regenerate only those):
  for m in lm classify tagger seq2seq pool tdnn mdn; do
    build/f/reel export test/interop/$m.json --params test/interop/$m.params.safetensors \\
      > test/interop/${m}_model.py; done
  /usr/bin/python3 test/gen_interop.py
(The first time, before the params files exist, export without --params.)"""
import os
import sys

import torch

from fixtures import Inputs, save

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop")


def exported(name):
    """The namespace of test/interop/<name>_model.py, run as a module (its __main__ block skipped)."""
    path = os.path.join(HERE, f"{name}_model.py")
    ns = {"__name__": f"reel_export_{name}"}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)
    return ns


def i32(rows):
    return torch.tensor(rows, dtype=torch.int32)


def batches(R):
    """One batch per model, in reel grad's format (time-major ids, int32)."""
    out = {}
    # lm: vocabulary 8 (<pad>, <unk>, "\n", " ", a-d); all sequences T long; two ignored labels
    T, B = 6, 3
    tokens = R.ints(8, T, B)
    labels = R.ints(8, T, B)
    labels[5, 0] = -100
    labels[2, 2] = -100
    out["lm"] = {"tokens": tokens.int(), "labels": labels.int()}
    # classify: vocabulary 5 (<pad>, <unk>, a-c), 3 classes; variable lengths, padding 0
    T, B = 5, 4
    lengths = torch.tensor([5, 2, 4, 1])
    tokens = R.ints(3, T, B) + 2
    tokens[torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)] = 0
    out["classify"] = {"tokens": tokens.int(), "lengths": lengths.int(), "labels": R.ints(3, B).int()}
    # tagger: vocabulary 7 (<pad>, <unk>, a-e), 2 tags; variable lengths, -100 past them
    T, B = 6, 4
    lengths = torch.tensor([6, 3, 5, 1])
    pad = torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)
    tokens = R.ints(5, T, B) + 2
    tokens[pad] = 0
    labels = R.ints(2, T, B)
    labels[pad] = -100
    out["tagger"] = {"tokens": tokens.int(), "lengths": lengths.int(), "labels": labels.int()}
    # seq2seq: source ids 0 <pad>, 1 <unk>, 2-5 a-d; target ids 0 pad, 1 bos, 2 eos, 3 <unk>, 4-7 a-d
    S, B = 5, 3
    src_len = torch.tensor([5, 2, 4])
    src = torch.zeros(S, B, dtype=torch.int64)
    tgt = torch.zeros(S + 1, B, dtype=torch.int64)
    for b in range(B):
        ids = R.ints(4, int(src_len[b]))
        src[: len(ids), b] = ids + 2
        tgt[: len(ids), b] = ids.flip(0) + 4
        tgt[len(ids), b] = 2
    out["seq2seq"] = {"src": src.int(), "src_len": src_len.int(), "tgt": tgt.int()}
    # pool: the classifier's data through embedding, linear, sigmoid, mean pool, linear: the
    # sigmoid is 0.5 at padded steps, so the mean pool must mask them
    T, B = 5, 4
    lengths = torch.tensor([3, 5, 1, 2])
    tokens = R.ints(3, T, B) + 2
    tokens[torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)] = 0
    out["pool"] = {"tokens": tokens.int(), "lengths": lengths.int(), "labels": R.ints(3, B).int()}
    return out


def batches_issue18(R):
    """The layers of issue 18 (drawn from their own seed, so the five above stay as they were)."""
    out = {}
    # tdnn: ctc over 8 features per frame; two time-delay layers (tanh, then dilation 2, no bias or
    # activation), a residual bidirectional 2-layer GRU; labels 1-5 left-aligned, -100 after them
    T, B = 9, 3
    lengths = torch.tensor([9, 6, 7])
    x = R.uniform(T, B, 8)
    x[torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)] = 0
    labels = torch.full((T, B), -100, dtype=torch.int64)
    for b, lab in enumerate([[1, 2, 2, 3], [4, 5], [3, 1, 3]]):
        labels[: len(lab), b] = torch.tensor(lab)
    out["tdnn"] = {"inputs": x, "lengths": lengths.int(), "labels": labels.int()}
    # mdn: per-step regression of 1 value; a residual 3-layer LSTM, relu, a time-delay layer, an mdn of 3
    T, B = 6, 3
    lengths = torch.tensor([6, 4, 5])
    x = R.uniform(T, B, 1)
    x[torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)] = 0
    out["mdn"] = {"inputs": x, "lengths": lengths.int(), "targets": R.uniform(T, B, 1, lo=-2.0, hi=2.0)}
    return out


def run(name, ns, batch):
    """Loss, outputs and gradients of the exported model on the batch, in float64."""
    model = ns["Model"]().double()
    model.load_state_dict(ns["load_safetensors"](os.path.join(HERE, f"{name}.params.safetensors")))
    model.eval()
    if name == "seq2seq":
        outputs = model(batch["src"].long(), batch["src_len"].long(), batch["tgt"].long())
        loss = model.reel_loss(outputs, batch["tgt"])
    else:
        lengths = batch["lengths"].long() if "lengths" in batch else None
        inputs = batch["inputs"].double() if "inputs" in batch else batch["tokens"].long()
        outputs = model(inputs, lengths)
        loss = model.reel_loss(outputs, batch["targets"] if "targets" in batch else batch["labels"], lengths)
    loss.backward()
    expected = {"loss": loss.detach()}
    if name != "seq2seq":
        expected["outputs"] = outputs.detach()
    for pn, p in model.named_parameters():
        expected[f"grad.{pn}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    return expected


def main(only):
    """Every model's parameters are drawn whatever `only` names, so each file is the same either way."""
    meta = {"generator": "test/gen_interop.py", "torch": torch.__version__}
    R = Inputs(20240611)
    todo = [(name, batch, R) for name, batch in batches(R).items()]
    R18 = Inputs(20261128)
    todo += [(name, batch, R18) for name, batch in batches_issue18(R18).items()]
    for name, batch, R in todo:
        ns = exported(name)
        init = ns["Model"]()
        params = {pn: R.uniform(*p.shape, lo=-0.5, hi=0.5).float() for pn, p in init.state_dict().items()}
        if only and name not in only:
            continue
        save(os.path.join(HERE, f"{name}.params.safetensors"), params, meta)
        save(os.path.join(HERE, f"{name}.batch.safetensors"), batch, meta)
        expected = run(name, ns, batch)
        save(os.path.join(HERE, f"{name}.expected.safetensors"), expected, meta)
        print(f"{name}: loss {expected['loss'].item():.12g}, {len(params)} parameters")


if __name__ == "__main__":
    main(sys.argv[1:])
