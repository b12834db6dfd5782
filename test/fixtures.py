"""Shared helpers of the fixture generators: a minimal safetensors writer
(the format is tiny, so no extra package is needed) and seeded inputs that are
exactly representable in float32, so the float and double builds of reel see
the same numbers.  Run the generators with Debian's python3-torch:
/usr/bin/python3 test/gen_ops.py (and the others in test/)."""
import json
import struct

import torch


def save(path, tensors, meta=None):
    header, blobs, at = {}, [], 0
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float64:
            dt, raw = "F64", t.numpy().tobytes()
        elif t.dtype == torch.float32:
            dt, raw = "F32", t.numpy().tobytes()
        elif t.dtype in (torch.int32, torch.int64):
            dt, raw = "I32", t.to(torch.int32).numpy().tobytes()
        else:
            raise ValueError(f"{name}: dtype {t.dtype}")
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Inputs:
    """Seeded uniform inputs, rounded to float32, held as float64."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def uniform(self, *shape, lo=-1.0, hi=1.0):
        x = torch.rand(tuple(shape), generator=self.g, dtype=torch.float64) * (hi - lo) + lo
        return x.float().double()

    def ints(self, hi, *shape):
        return torch.randint(0, hi, shape, generator=self.g, dtype=torch.int64)
