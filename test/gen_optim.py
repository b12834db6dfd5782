"""Trajectories of torch.optim on a small fixed problem, for reel's optim/.

Problem: parameters W (3, 4) and b (3); loss = mean((tanh(X W^T + b) - Y)^2)
for fixed X (8, 4), Y (8, 3).  For each configuration, 20 steps of
(gradient, optional clipping, update); stored: the initial W, b, the data,
and after every step the parameters flattened [W, b] -> traj (20, 15), the
loss before each step, and the clipping norm where clipping is used.
Learning-rate schedules: the lr at epochs 0..29 for base lr 1.
ReduceLROnPlateau: the lr after each of a fixed metric sequence.
Float64 throughout.  Writes test/fixtures/optim.safetensors.
Run: /usr/bin/python3 test/gen_optim.py"""
import os

import torch
from torch.optim import lr_scheduler as S

from fixtures import Inputs, save

R = Inputs(99)
X, Y = R.uniform(8, 4), R.uniform(8, 3, lo=-0.8, hi=0.8)
W0, b0 = R.uniform(3, 4), R.uniform(3)
out = {"data.X": X, "data.Y": Y, "data.W0": W0, "data.b0": b0}
STEPS = 20

# name -> (optimizer class, kwargs, clip) ; kwargs "groups" = bias without decay
configs = {
    "sgd": (torch.optim.SGD, dict(lr=0.1), None),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), None),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), None),
    "adam": (torch.optim.Adam, dict(lr=0.05), None),
    "adam_amsgrad_wd": (torch.optim.Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.01), None),
    "adamw": (torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1), None),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.05, amsgrad=True), None),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01), None),
    "rmsprop_centered_momentum": (torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01), None),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1), None),
    "sgd_no_decay_bias": (torch.optim.SGD, dict(lr=0.1, weight_decay=0.1, groups=True), None),
    "sgd_clip_norm": (torch.optim.SGD, dict(lr=0.5), ("norm", 0.05)),
    "sgd_clip_value": (torch.optim.SGD, dict(lr=0.5), ("value", 0.01)),
}

for name, (cls, kw, clip) in configs.items():
    W = W0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    kw = dict(kw)
    if kw.pop("groups", False):
        wd = kw.pop("weight_decay")
        opt = cls([{"params": [W], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}], **kw)
    else:
        opt = cls([W, b], **kw)
    traj, losses, norms = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((torch.tanh(X @ W.T + b) - Y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        if clip and clip[0] == "norm":
            norms.append(float(torch.nn.utils.clip_grad_norm_([W, b], clip[1])))
        elif clip:
            torch.nn.utils.clip_grad_value_([W, b], clip[1])
        opt.step()
        traj.append(torch.cat([W.detach().flatten(), b.detach().flatten()]))
    out[f"{name}.traj"] = torch.stack(traj)
    out[f"{name}.loss"] = torch.tensor(losses, dtype=torch.float64)
    if norms:
        out[f"{name}.norm"] = torch.tensor(norms, dtype=torch.float64)


def lrs(make, n=30):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    sch = make(opt)
    v = []
    for _ in range(n):
        v.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return torch.tensor(v, dtype=torch.float64)


out["sched.step"] = lrs(lambda o: S.StepLR(o, step_size=5, gamma=0.5))
out["sched.multistep"] = lrs(lambda o: S.MultiStepLR(o, milestones=[3, 7, 12], gamma=0.3))
out["sched.exponential"] = lrs(lambda o: S.ExponentialLR(o, gamma=0.9))
out["sched.cosine"] = lrs(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), n=11)
out["sched.warmup_cosine"] = lrs(lambda o: S.SequentialLR(
    o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)],
    milestones=[5]), n=16)
out["sched.warmup_step"] = lrs(lambda o: S.SequentialLR(
    o, [S.LinearLR(o, start_factor=0.25, total_iters=4), S.StepLR(o, step_size=3, gamma=0.5)],
    milestones=[4]))

metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.899, 0.9, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8,
           0.9, 0.95, 0.97, 0.99]
p = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([p], lr=1.0)
pl = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.05)
v = []
for m in metrics:
    pl.step(m)
    v.append(opt.param_groups[0]["lr"])
out["plateau.metric"] = torch.tensor(metrics, dtype=torch.float64)
out["plateau.lr"] = torch.tensor(v, dtype=torch.float64)

path = os.path.join(os.path.dirname(__file__), "fixtures", "optim.safetensors")
save(path, out, {"generator": "test/gen_optim.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
