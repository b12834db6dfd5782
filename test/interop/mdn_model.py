# PyTorch module for test/interop/mdn.json, written by `reel export`.
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
    """test/interop/mdn.json: task regress, 4 layers (reel's list, as nn.Sequential: submodule names are the layer names)."""

    mdn_components, mdn_outputs = 3, 1  # the mdn output's K and O

    def __init__(self):
        super().__init__()
        self.residual = {}  # residual stacks: single-layer twins by layer name (not submodules)
        self.add_module("rnn", nn.LSTM(1, 4, num_layers=3))
        self.residual["rnn"] = residual_layers(self._modules["rnn"])
        self.add_module("td", TDNN(4, 4, 2, 1, act="sigmoid"))
        self.add_module("mix", nn.Linear(4, 9))  # mdn: K mixture logits, K x O means, K x O log standard deviations

    def forward(self, inputs, lengths=None):
        """inputs: time-major features (T, B, F); lengths: (B) or None (every sequence T steps)."""
        x = inputs
        x = run_residual(self.residual["rnn"], x, lengths)  # (T, B, 4)
        x = torch.relu(x)  # (T, B, 4)
        x = self._modules["td"](x)  # (T, B, 4)
        x = self._modules["mix"](x)  # (T, B, 9)
        return x

    def mixture(self, outputs):
        """The mdn output as reel reads it (reel_mdn_nll): weights pi = softmax(a) (..., K),
        means (..., K, O), standard deviations exp(s) (..., K, O) (variances exp(2 s))."""
        K, O = self.mdn_components, self.mdn_outputs
        a, mu, s = outputs.split([K, K * O, K * O], -1)
        return torch.softmax(a, -1), mu.unflatten(-1, (K, O)), s.exp().unflatten(-1, (K, O))

    def reel_loss(self, outputs, targets, lengths=None):
        """reel's loss: the mixture's negative log-likelihood of the targets, a mean over the steps within each length."""
        K, O = self.mdn_components, self.mdn_outputs
        a, mu, s = outputs.split([K, K * O, K * O], -1)
        normal = torch.distributions.Normal(mu.unflatten(-1, (K, O)), s.exp().unflatten(-1, (K, O)))
        nll = -(torch.log_softmax(a, -1) + normal.log_prob(targets.unsqueeze(-2)).sum(-1)).logsumexp(-1)
        if lengths is None:
            return nll.mean()
        return (nll * step_mask(lengths, nll.shape[0], nll)[:, :, 0]).sum() / lengths.sum()


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "test/interop/mdn.params.safetensors"
    model = Model().double().eval()
    model.load_state_dict(load_safetensors(path))  # strict: every name and shape must match
    print(f"loaded {len(model.state_dict())} tensors from {path}")
