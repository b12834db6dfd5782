"""Golden values for a cell written in reel's cell language: the GRU with
the reset gate applied before the recurrent product (Cho et al. 2014;
Keras GRU(reset_after=False)), configs/cells/gru_reset_before.json.

Keras computes, with kernel W, recurrent kernel U and one bias b per gate,
    z = sigmoid(x W_z + h U_z + b_z),  r = sigmoid(x W_r + h U_r + b_r)
    h~ = tanh(x W_h + (r * h) U_h + b_h),  h' = z * h + (1 - z) * h~
The reference below is that, in PyTorch ops, with reel's parameter names:
weight_ih (3H, F) holds W_r, W_z, W_h (rows), weight_hh (2H, H) holds U_r,
U_z, u_n (H, H) is U_h, and the r and z biases are split into bias_ih +
bias_hh (Keras's b_r = bias_ih_r + bias_hh_r: a Keras model's weights load
with bias_hh zero).  Driven over time as reel's driver is documented to
(stacked, bidirectional, state frozen and output zero past each length),
2 layers, bidirectional, variable lengths, float64.
Writes test/fixtures/cells_json.safetensors.
Run: /usr/bin/python3 test/gen_cells_json.py"""
import os

import torch

from fixtures import Inputs, save

T, B, I, H, LAYERS, D = 5, 3, 4, 3, 2, 2


def step(P, x, h):
    xr, xz, xn = (x @ P["weight_ih"].T + P["bias_ih"]).chunk(3, -1)
    hr, hz = (h @ P["weight_hh"].T + P["bias_hh"]).chunk(2, -1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    cand = torch.tanh(xn + (r * h) @ P["u_n"].T)
    return z * h + (1 - z) * cand


R = Inputs(1401)
P = {}
for l in range(LAYERS):
    F_ = I if l == 0 else D * H
    for d in range(D):
        sfx = f"_l{l}" + ("_reverse" if d else "")
        for name, shape in (("weight_ih", (3 * H, F_)), ("weight_hh", (2 * H, H)), ("bias_ih", (3 * H,)),
                            ("bias_hh", (2 * H,)), ("u_n", (H, H))):
            P[name + sfx] = R.uniform(*shape, lo=-0.6, hi=0.6).requires_grad_()
x = R.uniform(T, B, I).requires_grad_()
h0 = R.uniform(LAYERS * D, B, H, lo=-0.5, hi=0.5).requires_grad_()
lengths = torch.tensor([5, 2, 4], dtype=torch.int64)
mask = (torch.arange(T)[:, None] < lengths[None, :]).double().unsqueeze(-1)
inp, hn = x, []
for l in range(LAYERS):
    outs_d = []
    for d in range(D):
        sfx = f"_l{l}" + ("_reverse" if d else "")
        Q = {k[: -len(sfx)]: v for k, v in P.items() if k.endswith(sfx)}
        h, outs = h0[l * D + d], [None] * T
        for s in (reversed(range(T)) if d else range(T)):
            m = mask[s]
            h = m * step(Q, inp[s], h) + (1 - m) * h
            outs[s] = h * m
        outs_d.append(torch.stack(outs))
        hn.append(h)
    inp = torch.cat(outs_d, -1)
y, h_n = inp, torch.stack(hn)
sy, sh = R.uniform(*y.shape), R.uniform(*h_n.shape)
((y * sy).sum() + (h_n * sh).sum()).backward()
out = {"x": x.detach(), "h0": h0.detach(), "lengths": lengths, "y": y.detach(), "h_n": h_n.detach(),
       "seed_y": sy, "seed_h": sh, "grad.x": x.grad, "grad.h0": h0.grad}
for k, p in P.items():
    out[k] = p.detach()
    out["grad." + k] = p.grad
path = os.path.join(os.path.dirname(__file__), "fixtures", "cells_json.safetensors")
save(path, out, {"generator": "test/gen_cells_json.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
