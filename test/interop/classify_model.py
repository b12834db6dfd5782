# PyTorch module for test/interop/classify.json, written by `reel export`.
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


def pool(x, lengths, mode):
    """(T, B, F) -> (B, F) over each sequence's own steps (reel's pool layer)."""
    T, B = x.shape[0], x.shape[1]
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long)
    lengths = lengths.to(x.device).long()
    if mode == "last":
        return x[lengths - 1, torch.arange(B, device=x.device)]
    mask = step_mask(lengths, T, x)
    if mode == "mean":
        return (x * mask).sum(0) * (1.0 / lengths.to(x.dtype)).unsqueeze(1)
    return x.masked_fill(mask == 0, float("-inf")).amax(0)


class Model(nn.Module):
    """test/interop/classify.json: task classify, 4 layers (reel's list, as nn.Sequential: submodule names are the layer names)."""

    def __init__(self):
        super().__init__()
        self.add_module("emb", nn.Embedding(5, 4))
        self.add_module("gru", nn.GRU(4, 5))
        self.add_module("head", nn.Linear(5, 3))

    def forward(self, inputs, lengths=None):
        """inputs: time-major token ids (T, B); lengths: (B) or None (every sequence T steps)."""
        x = inputs
        x = self._modules["emb"](x)  # (T, B, 4)
        x = run_rnn(self._modules["gru"], x, lengths)  # (T, B, 5)
        x = pool(x, lengths, "mean")  # (B, 5)
        x = self._modules["head"](x)  # (B, 3)
        return x

    def reel_loss(self, outputs, labels, lengths=None):
        """reel's loss: mean cross-entropy over the labels that are not -100."""
        return nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), labels.reshape(-1).long(), ignore_index=-100)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "test/interop/classify.params.safetensors"
    model = Model().double().eval()
    model.load_state_dict(load_safetensors(path))  # strict: every name and shape must match
    print(f"loaded {len(model.state_dict())} tensors from {path}")
