"""Golden values for reel's ops that PyTorch also has.

For each case: inputs <case>.in0.., the output <case>.out, a seed <case>.seed
for the backward (the vector-Jacobian product with the output) and the input
gradients <case>.grad0...  Computed in float64 from float32-representable
inputs.  Writes test/fixtures/ops.safetensors.
Run: /usr/bin/python3 test/gen_ops.py"""
import os

import torch
import torch.nn.functional as F

from fixtures import Inputs, save

R = Inputs(1234)
out = {}


def case(name, fn, *inputs, grads=None, extra=None):
    xs = [x.clone().requires_grad_(grads is None or i in grads) for i, x in enumerate(inputs)]
    y = fn(*xs)
    seed = R.uniform(*y.shape)
    (y * seed).sum().backward()
    for i, x in enumerate(xs):
        out[f"{name}.in{i}"] = x.detach()
        if x.grad is not None:
            out[f"{name}.grad{i}"] = x.grad
    out[f"{name}.out"] = y.detach()
    out[f"{name}.seed"] = seed
    for k, v in (extra or {}).items():
        out[f"{name}.{k}"] = v


u = R.uniform
case("matmul", lambda a, b: a @ b, u(4, 6), u(6, 5))
case("matmul_ta", lambda a, b: a.T @ b, u(6, 4), u(6, 5))
case("matmul_tb", lambda a, b: a @ b.T, u(4, 6), u(5, 6))
case("matmul_row", lambda a, b: a @ b.T, u(1, 6), u(5, 6))
case("addmm", lambda d, a, b: torch.addmm(d, a, b.T), u(4), u(3, 6), u(4, 6))
case("bmm", lambda a, b: torch.bmm(a, b.transpose(1, 2)), u(3, 2, 4), u(3, 5, 4))
case("add_bias", lambda a, b: a + b, u(2, 3, 4), u(4))
case("sub", lambda a, b: a - b, u(3, 4), u(3, 4))
case("mul_col", lambda a, b: a * b, u(3, 4), u(3, 1))
case("scale", lambda a: -1.5 * a, u(3, 4))
case("add_scalar", lambda a: a + 0.25, u(3, 4))
case("one_minus", lambda a: 1 - a, u(3, 4))
case("tanh", torch.tanh, u(3, 4, lo=-3, hi=3))
case("sigmoid", torch.sigmoid, u(3, 4, lo=-6, hi=6))
case("relu", torch.relu, u(3, 4))
case("exp", torch.exp, u(3, 4, lo=-2, hi=2))
case("log", torch.log, u(3, 4, lo=0.1, hi=3))
case("softmax", lambda a: torch.softmax(a, -1), u(2, 3, 7, lo=-4, hi=4))
case("log_softmax", lambda a: torch.log_softmax(a, -1), u(3, 7, lo=-4, hi=4))
case("concat", lambda a, b: torch.cat([a, b], 1), u(2, 3, 4), u(2, 2, 4))
case("slice", lambda a: a[:, 2:5], u(3, 8))
case("stack", lambda a, b: torch.stack([a, b]), u(2, 3), u(2, 3))
case("transpose", lambda a: a.transpose(-1, -2), u(2, 3, 4))
case("swapaxes", lambda a: a.transpose(0, 1), u(3, 2, 4))
case("sum", lambda a: a.sum(), u(3, 4))
case("mean", lambda a: a.mean(), u(3, 4))
case("sum_axis", lambda a: a.sum(0), u(3, 2, 4))
case("mean_axis", lambda a: a.mean(1), u(3, 2, 4))
ids = torch.tensor([3, 0, 3, 5, 1], dtype=torch.int64)
case("gather", lambda w: F.embedding(ids, w), u(6, 4), extra={"ids": ids})
tg = torch.tensor([2, 0, 4, 1, 2, 3], dtype=torch.int64)
case("cross_entropy", lambda x: F.cross_entropy(x, tg, ignore_index=1), u(6, 5, lo=-3, hi=3),
     extra={"targets": tg})
mask = torch.tensor([1.0, 0.0, 0.5, 1.0, 2.0, 1.0], dtype=torch.float64)
case("cross_entropy_mask",
     lambda x: (F.cross_entropy(x, tg, reduction="none") * mask).sum() / mask.sum(),
     u(6, 5, lo=-3, hi=3), extra={"targets": tg, "mask": mask})
case("mse", F.mse_loss, u(3, 4), u(3, 4))
m = torch.tensor([[1.0], [0.0], [1.0]], dtype=torch.float64)
case("blend", lambda a, b: m * a + (1 - m) * b, u(3, 4), u(3, 4), extra={"mask": m})

# issue 10: the missing ops (appended, so the inputs of the cases above keep
# their random draws)
case("log_softmax_3d_wide", lambda a: F.log_softmax(a, -1), u(2, 3, 7, lo=-30, hi=30))
case("div", lambda a, b: a / b, u(3, 4), u(3, 4, lo=0.5, hi=2))
case("div_row", lambda a, b: a / b, u(2, 3, 4), u(4, lo=-2, hi=-0.5))
case("div_col_first", lambda a, b: a / b, u(3, 1), u(3, 4, lo=0.5, hi=2))
case("sqrt", torch.sqrt, u(3, 4, lo=0.1, hi=3))
case("rsqrt", torch.rsqrt, u(3, 4, lo=0.1, hi=3))
for pname, p, lo in (("pow_2_5", 2.5, 0.1), ("pow_m1_5", -1.5, 0.1), ("pow_3", 3.0, -2.0), ("pow_2", 2.0, -2.0)):
    case(pname, lambda a, p=p: torch.pow(a, p), u(3, 4, lo=lo, hi=2), extra={"p": torch.tensor([p], dtype=torch.float64)})
with_zeros = u(3, 4)
with_zeros[0, 1] = 0.0
with_zeros[2, 3] = 0.0
case("pow_0", lambda a: torch.pow(a, 0.0), with_zeros.clone(), extra={"p": torch.tensor([0.0], dtype=torch.float64)})
case("abs", torch.abs, with_zeros.clone())
# clamp at its exact boundaries: PyTorch passes the gradient at lo and at hi
at_bounds = u(4, 5)
at_bounds[0, 0], at_bounds[1, 2], at_bounds[3, 4] = -0.5, 0.5, -0.5
case("clamp", lambda a: torch.clamp(a, -0.5, 0.5), at_bounds.clone())
at_max = u(3, 4)
at_max[1, 1] = 0.25
case("clamp_max", lambda a: torch.clamp(a, max=0.25), at_max)
case("layer_norm", lambda x, g, b: F.layer_norm(x, (8,), g, b, 1e-5), u(2, 3, 8, lo=-3, hi=3), u(8), u(8))
case("layer_norm_plain", lambda x: F.layer_norm(x, (6,), None, None, 1e-5), u(4, 6, lo=2, hi=4))
case("layer_norm_gamma", lambda x, g: F.layer_norm(x, (5,), g, None, 0.1), u(3, 5), u(5))
# max over time with a -inf padded step (max pooling masked by lengths)
padded = u(4, 3, 5)
padded[3, 1, :] = float("-inf")
case("max_axis", lambda a: a.max(0).values, padded)
case("max_axis_last", lambda a: a.max(-1).values, u(2, 3, 6))

os.makedirs(os.path.join(os.path.dirname(__file__), "fixtures"), exist_ok=True)
save(os.path.join(os.path.dirname(__file__), "fixtures", "ops.safetensors"), out,
     {"generator": "test/gen_ops.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors")
