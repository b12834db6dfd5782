"""Golden values for reel's attention kinds, written in PyTorch with the same
equations (layers/seq2seq.h): dot, general (s^T W h), additive
(v^T tanh(W_q s + W_k h)), each with a source padding mask.  Stored per
kind: parameters, encoder outputs enc (S, B, K), query (B, Q), lengths,
context (B, K), weights (B, S), seeds for the loss sum(c*sc) + sum(a*sa) and
the gradients of every parameter, enc and query.  Float64.
Writes test/fixtures/attn.safetensors.  Run: /usr/bin/python3 test/gen_attn.py"""
import os

import torch

from fixtures import Inputs, save

S, B, Q, K, A = 5, 3, 4, 4, 6
R = Inputs(777)
out = {}
lengths = torch.tensor([5, 2, 3])
for kind in ("dot", "general", "additive"):
    enc = R.uniform(S, B, K).requires_grad_()
    q = R.uniform(B, Q).requires_grad_()
    params = {}
    if kind == "general":
        params["W"] = R.uniform(Q, K).requires_grad_()
    if kind == "additive":
        params["W_q"] = R.uniform(A, Q).requires_grad_()
        params["W_k"] = R.uniform(A, K).requires_grad_()
        params["v"] = R.uniform(1, A).requires_grad_()
    keys = enc.transpose(0, 1)  # (B, S, K)
    if kind == "dot":
        score = torch.einsum("bk,bsk->bs", q, keys)
    elif kind == "general":
        score = torch.einsum("bk,bsk->bs", q @ params["W"], keys)
    else:
        e = torch.tanh((enc @ params["W_k"].T) + (q @ params["W_q"].T))  # (S, B, A)
        score = (e @ params["v"].T).squeeze(-1).T  # (B, S)
    pad = torch.arange(S)[None, :] >= lengths[:, None]
    a = torch.softmax(score.masked_fill(pad, float("-inf")), -1)
    c = torch.einsum("bs,bsk->bk", a, keys)
    sc, sa = R.uniform(B, K), R.uniform(B, S)
    ((c * sc).sum() + (a * sa).sum()).backward()
    n = f"attn_{kind}"
    for k, p in params.items():
        out[f"{n}.{k}"] = p.detach()
        out[f"{n}.grad.{k}"] = p.grad
    out.update({f"{n}.enc": enc.detach(), f"{n}.query": q.detach(), f"{n}.lengths": lengths,
                f"{n}.context": c.detach(), f"{n}.weights": a.detach(), f"{n}.seed_c": sc, f"{n}.seed_a": sa,
                f"{n}.grad.enc": enc.grad, f"{n}.grad.query": q.grad})

path = os.path.join(os.path.dirname(__file__), "fixtures", "attn.safetensors")
save(path, out, {"generator": "test/gen_attn.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
