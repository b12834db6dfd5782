"""Golden values of the time-delay layer (reel_time_window, then one
product with bias) against torch.nn.functional.conv1d: a causal 1-D
convolution over time with left padding (k - 1) * dilation.

reel's weight (O, k*F) has block j (columns j*F..) for the input j *
dilation steps back; conv1d's kernel (O, F, k) has tap i for the input
(k - 1 - i) * dilation steps back.  Per case: <case>.x (T, B, F) time-major,
.weight (O, k*F), .bias (O), .k, .dilation, the output .out (T, B, O), the
backward seed .seed and the gradients .grad_x, .grad_weight, .grad_bias.
Computed in float64 from float32-representable inputs.  Writes
test/fixtures/tdnn.safetensors.  Run: /usr/bin/python3 test/gen_tdnn.py"""
import os

import torch
import torch.nn.functional as F

from fixtures import Inputs, save

R = Inputs(1989)
out = {}


def case(name, T, B, Fin, O, k, dil):
    x = R.uniform(T, B, Fin).requires_grad_(True)
    w = R.uniform(O, k * Fin).requires_grad_(True)
    b = R.uniform(O).requires_grad_(True)
    # (O, k*F) blocks j -> conv kernel (O, F, k) tap k - 1 - j
    kern = w.reshape(O, k, Fin).flip(1).permute(0, 2, 1)
    xb = x.permute(1, 2, 0)  # (B, F, T)
    y = F.conv1d(F.pad(xb, ((k - 1) * dil, 0)), kern, b, dilation=dil)  # (B, O, T)
    y = y.permute(2, 0, 1)  # (T, B, O)
    seed = R.uniform(*y.shape)
    (y * seed).sum().backward()
    out[f"{name}.x"] = x.detach()
    out[f"{name}.weight"] = w.detach()
    out[f"{name}.bias"] = b.detach()
    out[f"{name}.k"] = torch.tensor([k])
    out[f"{name}.dilation"] = torch.tensor([dil])
    out[f"{name}.out"] = y.detach()
    out[f"{name}.seed"] = seed
    out[f"{name}.grad_x"] = x.grad
    out[f"{name}.grad_weight"] = w.grad
    out[f"{name}.grad_bias"] = b.grad


case("k3", 7, 2, 3, 4, 3, 1)
case("k2_dil2", 9, 3, 2, 5, 2, 2)
case("k4_dil3_short", 6, 2, 3, 2, 4, 3)
case("k1", 5, 2, 4, 3, 1, 1)

os.makedirs(os.path.join(os.path.dirname(__file__), "fixtures"), exist_ok=True)
save(os.path.join(os.path.dirname(__file__), "fixtures", "tdnn.safetensors"), out,
     {"generator": "test/gen_tdnn.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors")
