# PyTorch module for test/interop/tdnn.json, written by `reel export`.
# Its state_dict names and shapes are reel's parameters: files reel writes (and
# `reel grad --params` reads) load with load_state_dict unchanged.  forward computes
# what reel computes with dropout off (model.eval()); reel_loss is reel's training loss.
# Run it to load a parameter file: python3 THIS.py [FILE.safetensors]
import json
import struct
import sys

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def load_safetensors(path):
    """{name: tensor} from a safetensors file (F32, F64, I32, I64), without the safetensors package."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    types = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = types[info["dtype"]]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dt) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out


def step_mask(lengths, T, like):
    """(T, B, 1): 1 at each sequence's steps, 0 past its length."""
    steps = torch.arange(T, device=like.device).unsqueeze(1)
    return (steps < lengths.to(like.device).unsqueeze(0)).unsqueeze(2).to(like.dtype)


def run_rnn(rnn, x, lengths):
    """x (T, B, F) through rnn from zero states; outputs are zero past each length."""
    if lengths is None:
        return rnn(x)[0]
    packed = pack_padded_sequence(x, lengths.cpu().long(), enforce_sorted=False)
    return pad_packed_sequence(rnn(packed)[0], total_length=x.shape[0])[0]


def residual_layers(rnn):
    """Single-layer twins of a stacked rnn that share its parameters (kept outside the module
    tree, so the state_dict stays rnn's), to run reel's residual stack a layer at a time."""
    D = 2 if rnn.bidirectional else 1
    kw = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    layers = []
    for l in range(rnn.num_layers):
        one = type(rnn)(rnn.input_size if l == 0 else D * rnn.hidden_size, rnn.hidden_size, bias=rnn.bias,
                        bidirectional=rnn.bidirectional, **kw)
        for name in one._flat_weights_names:
            setattr(one, name, getattr(rnn, name.replace("_l0", f"_l{l}")))
        layers.append(one)
    return layers


def run_residual(layers, x, lengths):
    """reel's residual stack (GNMT, Wu et al. 2016): layer l >= 1 adds its input to its output
    (both zero past each length).  reel's dropout between layers is training-only."""
    for l, one in enumerate(layers):
        y = run_rnn(one, x, lengths)
        x = y + x if l > 0 else y
    return x


class TDNN(nn.Module):
    """reel's time-delay layer (Waibel et al. 1989), a causal dilated Conv1d over time:
    y[t] = act(W [x[t]; x[t - d]; ...; x[t - (k - 1) d]] + b), zeros before the first step.
    weight (O, k F) is reel's: block j holds the tap j d steps back (Conv1d's tap k - 1 - j)."""

    def __init__(self, in_features, out_features, context, dilation, bias=True, act=None):
        super().__init__()
        self.k, self.d, self.act = context, dilation, act
        self.weight = nn.Parameter(torch.empty(out_features, context * in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        """x (T, B, F) -> (T, B, O)"""
        O, F = self.weight.shape[0], x.shape[2]
        w = self.weight.reshape(O, self.k, F).flip(1).permute(0, 2, 1)  # (O, F, k)
        xp = nn.functional.pad(x.permute(1, 2, 0), ((self.k - 1) * self.d, 0))  # (B, F, (k - 1) d + T)
        y = nn.functional.conv1d(xp, w, self.bias, dilation=self.d).permute(2, 0, 1)
        return y if self.act is None else getattr(torch, self.act)(y)


class Model(nn.Module):
    """test/interop/tdnn.json: task ctc, 4 layers (reel's list, as nn.Sequential: submodule names are the layer names)."""

    def __init__(self):
        super().__init__()
        self.residual = {}  # residual stacks: single-layer twins by layer name (not submodules)
        self.add_module("td1", TDNN(8, 5, 3, 1, act="tanh"))
        self.add_module("td2", TDNN(5, 4, 2, 2, bias=False))
        self.add_module("rnn", nn.GRU(4, 3, num_layers=2, bidirectional=True))
        self.residual["rnn"] = residual_layers(self._modules["rnn"])
        self.add_module("head", nn.Linear(6, 6))

    def forward(self, inputs, lengths=None):
        """inputs: time-major features (T, B, F); lengths: (B) or None (every sequence T steps)."""
        x = inputs
        x = self._modules["td1"](x)  # (T, B, 5)
        x = self._modules["td2"](x)  # (T, B, 4)
        x = run_residual(self.residual["rnn"], x, lengths)  # (T, B, 6)
        x = self._modules["head"](x)  # (T, B, 6)
        return x

    def reel_loss(self, outputs, labels, lengths=None):
        """reel's loss: CTC (blank 0) on log_softmax(outputs), PyTorch's 'mean' reduction;
        labels (T, B) left-aligned, -100 after each sequence's."""
        T, B = labels.shape
        if lengths is None:
            lengths = torch.full((B,), outputs.shape[0], dtype=torch.long)
        return nn.functional.ctc_loss(outputs.log_softmax(-1), labels.t().clamp(min=0).long(), lengths.long(),
                                      (labels != -100).sum(0).long(), blank=0, reduction="mean")


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "test/interop/tdnn.params.safetensors"
    model = Model().double().eval()
    model.load_state_dict(load_safetensors(path))  # strict: every name and shape must match
    print(f"loaded {len(model.state_dict())} tensors from {path}")
