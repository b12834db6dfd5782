"""Golden values of reel_ctc_loss against torch.nn.functional.ctc_loss.

Random cases: logits (T, B, C) -> log_softmax -> ctc_loss with variable input
and target lengths (repeated labels included), blank 0 or another index,
reduction 'mean' (PyTorch's: each loss over its target length, then the
batch mean) and 'sum'.  For each case <case>.logits, .targets (B, S) padded,
.input_lengths, .target_lengths, .blank, .reduction (0 mean, 1 sum), the loss
<case>.loss and the gradient of the loss with respect to the logits
<case>.grad (compared through log_softmax: PyTorch's ctc_loss returns a
log_probs gradient that differs from the exact one by exp(log_probs), which
log_softmax's backward cancels).  Computed in float64 from float32-
representable inputs.  Writes test/fixtures/ctc.safetensors.
Run: /usr/bin/python3 test/gen_ctc.py"""
import os

import torch
import torch.nn.functional as F

from fixtures import Inputs, save

R = Inputs(2006)
out = {}


def case(name, T, B, C, blank, reduction, max_u):
    logits = R.uniform(T, B, C, lo=-3, hi=3).requires_grad_(True)
    g = R.g
    in_len = torch.randint(max(1, T // 2), T + 1, (B,), generator=g)
    in_len[0] = T
    tg_len = torch.zeros(B, dtype=torch.int64)
    targets = torch.zeros(B, max_u, dtype=torch.int64)
    labels = [c for c in range(C) if c != blank]
    for b in range(B):
        # a feasible length: U labels and up to U-1 repeats need at most 2U-1 frames
        u = int(torch.randint(0, min(max_u, (int(in_len[b]) + 1) // 2) + 1, (1,), generator=g))
        seq = [labels[int(i)] for i in torch.randint(0, len(labels), (u,), generator=g)]
        if u >= 2 and b % 2 == 0:
            seq[1] = seq[0]  # a repeat: the path needs a blank between
        tg_len[b] = u
        targets[b, :u] = torch.tensor(seq, dtype=torch.int64)
    lp = F.log_softmax(logits, -1)
    loss = F.ctc_loss(lp, targets, in_len, tg_len, blank=blank, reduction=reduction)
    loss.backward()
    out[f"{name}.logits"] = logits.detach()
    out[f"{name}.targets"] = targets
    out[f"{name}.input_lengths"] = in_len
    out[f"{name}.target_lengths"] = tg_len
    out[f"{name}.blank"] = torch.tensor([blank])
    out[f"{name}.reduction"] = torch.tensor([0 if reduction == "mean" else 1])
    out[f"{name}.loss"] = loss.detach().reshape(1)
    out[f"{name}.grad"] = logits.grad


case("small_mean", 5, 2, 3, 0, "mean", 2)
case("mean_b4", 12, 4, 6, 0, "mean", 5)
case("sum_b4", 12, 4, 6, 0, "sum", 5)
case("blank_last_mean", 10, 3, 5, 4, "mean", 4)
case("blank_mid_sum", 9, 5, 4, 2, "sum", 4)
case("long_mean", 40, 3, 8, 0, "mean", 15)
case("long_sum", 30, 6, 12, 0, "sum", 10)
case("tight_sum", 7, 2, 4, 0, "sum", 4)

os.makedirs(os.path.join(os.path.dirname(__file__), "fixtures"), exist_ok=True)
save(os.path.join(os.path.dirname(__file__), "fixtures", "ctc.safetensors"), out,
     {"generator": "test/gen_ctc.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors")
