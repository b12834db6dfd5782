"""Golden values for reel's recurrent layers from torch.nn.RNN/LSTM/GRU.

Cases: {rnn, lstm, gru} x {1, 2 layers} x {uni, bi} x {equal lengths,
variable lengths through pack_padded_sequence}.  Each case stores the
weights under PyTorch's state_dict names (prefixed "<case>."), the input x
(T, B, I), lengths, h0 (and c0), the outputs y (zero past each length),
h_n (and c_n), seeds for the scalar loss sum(y*sy) + sum(h_n*sh) (+
sum(c_n*sc)), and the gradient of that loss w.r.t. every parameter, x, h0
and c0.  Computed in float64.  Writes test/fixtures/rnn.safetensors.
Run: /usr/bin/python3 test/gen_rnn.py"""
import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from fixtures import Inputs, save

T, B, I, H = 5, 3, 4, 3
R = Inputs(4321)
out = {}
for kind in ("rnn", "lstm", "gru"):
    for layers in (1, 2):
        for bi in (0, 1):
            for var in (0, 1):
                name = f"{kind}_l{layers}_{'bi' if bi else 'uni'}_{'var' if var else 'eq'}"
                cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
                m = cls(I, H, num_layers=layers, bidirectional=bool(bi)).double()
                with torch.no_grad():
                    for p in m.parameters():
                        p.copy_(R.uniform(*p.shape, lo=-0.6, hi=0.6))
                D = 2 if bi else 1
                x = R.uniform(T, B, I).requires_grad_()
                h0 = R.uniform(layers * D, B, H, lo=-0.5, hi=0.5).requires_grad_()
                c0 = R.uniform(layers * D, B, H, lo=-0.5, hi=0.5).requires_grad_()
                lengths = torch.tensor([5, 2, 4] if var else [T] * B, dtype=torch.int64)
                state = (h0, c0) if kind == "lstm" else h0
                if var:
                    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
                    y, fin = m(packed, state)
                    y, _ = pad_packed_sequence(y, total_length=T)
                else:
                    y, fin = m(x, state)
                h_n, c_n = fin if kind == "lstm" else (fin, None)
                sy, sh = R.uniform(*y.shape), R.uniform(*h_n.shape)
                loss = (y * sy).sum() + (h_n * sh).sum()
                if c_n is not None:
                    sc = R.uniform(*c_n.shape)
                    loss = loss + (c_n * sc).sum()
                    out[f"{name}.seed_c"] = sc
                    out[f"{name}.c_n"] = c_n
                    out[f"{name}.c0"] = c0
                loss.backward()
                for pn, p in m.named_parameters():
                    out[f"{name}.{pn}"] = p.detach()
                    out[f"{name}.grad.{pn}"] = p.grad
                out[f"{name}.x"] = x.detach()
                out[f"{name}.grad.x"] = x.grad
                out[f"{name}.h0"] = h0.detach()
                out[f"{name}.grad.h0"] = h0.grad
                if kind == "lstm":
                    out[f"{name}.grad.c0"] = c0.grad
                out[f"{name}.lengths"] = lengths
                out[f"{name}.y"] = y.detach()
                out[f"{name}.h_n"] = h_n.detach()
                out[f"{name}.seed_y"] = sy
                out[f"{name}.seed_h"] = sh

path = os.path.join(os.path.dirname(__file__), "fixtures", "rnn.safetensors")
save(path, out, {"generator": "test/gen_rnn.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
