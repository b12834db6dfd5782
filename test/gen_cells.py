"""Golden values for reel's cells that PyTorch has no module for: IndRNN
(Li et al. 2018), the peephole LSTM (Gers & Schmidhuber 2000) and the
layer-normalized LSTM (Ba et al. 2016), each written here from its paper's
equations in PyTorch ops (F.layer_norm for the LN-LSTM), and driven over
time the way reel's driver is documented to (layers/layers.h): stacked,
bidirectional, state frozen and output zero past each sequence's length,
the reverse direction starting at each sequence's own last element.

Cases: {indrnn, peephole_lstm, ln_lstm} x {1 layer uni equal lengths,
2 layers bidirectional variable lengths}; stored like test/gen_rnn.py's
(weights under reel's parameter names prefixed "<case>.", x, lengths, h0,
c0, y, h_n, c_n, loss seeds and every gradient), computed in float64.
Writes test/fixtures/cells.safetensors.
Run: /usr/bin/python3 test/gen_cells.py"""
import os

import torch
import torch.nn.functional as F

from fixtures import Inputs, save

T, B, I, H = 5, 3, 4, 3
EPS = 1e-5


def indrnn(P, x, h, c):
    # h' = relu(x W_ih^T + b_ih + b_hh + u * h)
    return torch.relu(x @ P["weight_ih"].T + P["bias_ih"] + P["bias_hh"] + P["weight_hh"] * h), c


def peephole_lstm(P, x, h, c):
    a = x @ P["weight_ih"].T + P["bias_ih"] + P["bias_hh"] + h @ P["weight_hh"].T
    ai, af, ag, ao = a.chunk(4, -1)
    i = torch.sigmoid(ai + P["weight_ci"] * c)
    f = torch.sigmoid(af + P["weight_cf"] * c)
    c2 = f * c + i * torch.tanh(ag)
    o = torch.sigmoid(ao + P["weight_co"] * c2)
    return o * torch.tanh(c2), c2


def ln_lstm(P, x, h, c):
    gx = F.layer_norm(x @ P["weight_ih"].T, (4 * H,), P["ln_gamma_ih"], P["ln_beta_ih"], EPS)
    gh = F.layer_norm(h @ P["weight_hh"].T, (4 * H,), P["ln_gamma_hh"], P["ln_beta_hh"], EPS)
    ai, af, ag, ao = (gx + gh).chunk(4, -1)
    c2 = torch.sigmoid(af) * c + torch.sigmoid(ai) * torch.tanh(ag)
    return torch.sigmoid(ao) * torch.tanh(F.layer_norm(c2, (H,), P["ln_gamma_c"], P["ln_beta_c"], EPS)), c2


# name -> (step, [(param, shape(F), lo, hi)], states)
CELLS = {
    "indrnn": (indrnn, [("weight_ih", lambda F_: (H, F_)), ("weight_hh", lambda F_: (H,)),
                        ("bias_ih", lambda F_: (H,)), ("bias_hh", lambda F_: (H,))], 1),
    "peephole_lstm": (peephole_lstm, [("weight_ih", lambda F_: (4 * H, F_)), ("weight_hh", lambda F_: (4 * H, H)),
                                      ("bias_ih", lambda F_: (4 * H,)), ("bias_hh", lambda F_: (4 * H,)),
                                      ("weight_ci", lambda F_: (H,)), ("weight_cf", lambda F_: (H,)),
                                      ("weight_co", lambda F_: (H,))], 2),
    "ln_lstm": (ln_lstm, [("weight_ih", lambda F_: (4 * H, F_)), ("weight_hh", lambda F_: (4 * H, H)),
                          ("ln_gamma_ih", lambda F_: (4 * H,)), ("ln_beta_ih", lambda F_: (4 * H,)),
                          ("ln_gamma_hh", lambda F_: (4 * H,)), ("ln_beta_hh", lambda F_: (4 * H,)),
                          ("ln_gamma_c", lambda F_: (H,)), ("ln_beta_c", lambda F_: (H,))], 2),
}


def run(step, P, x, lengths, h0, c0, layers, D):
    mask = (torch.arange(T)[:, None] < lengths[None, :]).double().unsqueeze(-1)  # (T, B, 1)
    inp, hn, cn = x, [], []
    for l in range(layers):
        outs_d = []
        for d in range(D):
            sfx = f"_l{l}" + ("_reverse" if d else "")
            Q = {k[: -len(sfx)]: v for k, v in P.items() if k.endswith(sfx) and not k[: -len(sfx)].endswith("_l0")}
            h, c = h0[l * D + d], c0[l * D + d]
            outs = [None] * T
            for s in (reversed(range(T)) if d else range(T)):
                h2, c2 = step(Q, inp[s], h, c)
                m = mask[s]
                h2 = m * h2 + (1 - m) * h
                c2 = m * c2 + (1 - m) * c
                outs[s] = h2 * m
                h, c = h2, c2
            outs_d.append(torch.stack(outs))
            hn.append(h)
            cn.append(c)
        inp = torch.cat(outs_d, -1)
    return inp, torch.stack(hn), torch.stack(cn)


R = Inputs(2718)
out = {}
for kind, (step, plist, nstate) in CELLS.items():
    for layers, bi, var in ((1, 0, 0), (2, 1, 1)):
        name = f"{kind}_l{layers}_{'bi' if bi else 'uni'}_{'var' if var else 'eq'}"
        D = 2 if bi else 1
        P = {}
        for l in range(layers):
            Fin = I if l == 0 else D * H
            for d in range(D):
                sfx = f"_l{l}" + ("_reverse" if d else "")
                for pn, shape in plist:
                    lo, hi = (0.5, 1.5) if pn.startswith("ln_gamma") else (-0.6, 0.6)
                    P[pn + sfx] = R.uniform(*shape(Fin), lo=lo, hi=hi).requires_grad_()
        x = R.uniform(T, B, I).requires_grad_()
        h0 = R.uniform(layers * D, B, H, lo=-0.5, hi=0.5).requires_grad_()
        c0 = R.uniform(layers * D, B, H, lo=-0.5, hi=0.5).requires_grad_()
        lengths = torch.tensor([5, 2, 4] if var else [T] * B, dtype=torch.int64)
        y, h_n, c_n = run(step, P, x, lengths, h0, c0 if nstate > 1 else torch.zeros_like(c0), layers, D)
        sy, sh = R.uniform(*y.shape), R.uniform(*h_n.shape)
        loss = (y * sy).sum() + (h_n * sh).sum()
        if nstate > 1:
            sc = R.uniform(*c_n.shape)
            loss = loss + (c_n * sc).sum()
            out[f"{name}.seed_c"] = sc
            out[f"{name}.c_n"] = c_n.detach()
            out[f"{name}.c0"] = c0.detach()
        loss.backward()
        for pn, p in P.items():
            out[f"{name}.{pn}"] = p.detach()
            out[f"{name}.grad.{pn}"] = p.grad
        out[f"{name}.x"] = x.detach()
        out[f"{name}.grad.x"] = x.grad
        out[f"{name}.h0"] = h0.detach()
        out[f"{name}.grad.h0"] = h0.grad
        if nstate > 1:
            out[f"{name}.grad.c0"] = c0.grad
        out[f"{name}.lengths"] = lengths
        out[f"{name}.y"] = y.detach()
        out[f"{name}.h_n"] = h_n.detach()
        out[f"{name}.seed_y"] = sy
        out[f"{name}.seed_h"] = sh

path = os.path.join(os.path.dirname(__file__), "fixtures", "cells.safetensors")
save(path, out, {"generator": "test/gen_cells.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
