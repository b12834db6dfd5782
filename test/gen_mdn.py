"""Golden values of reel_mdn_nll against the same negative log-likelihood
computed with PyTorch's own pieces: mixture logits through log_softmax,
torch.distributions.Normal(mu, exp(log_sigma)).log_prob summed over the
target's D dimensions, logsumexp over the K components, then the weighted
mean over rows (weights: a mask, some rows 0).  Per case <case>.params
(N, K (1 + 2 D)) laid out as reel's (logits, K x D means, K x D log
sigmas), .target (N, D), .mask (N), .k, the loss <case>.loss and the
gradients <case>.grad_params, <case>.grad_target by autograd.  Computed in
float64 from float32-representable inputs.  Writes
test/fixtures/mdn.safetensors.  Run: /usr/bin/python3 test/gen_mdn.py"""
import os

import torch
from torch.distributions import Normal

from fixtures import Inputs, save

R = Inputs(1994)
out = {}


def nll(params, target, mask, K):
    N, D = target.shape
    a = params[:, :K]
    mu = params[:, K:K + K * D].reshape(N, K, D)
    ls = params[:, K + K * D:].reshape(N, K, D)
    logn = torch.log_softmax(a, -1) + Normal(mu, ls.exp()).log_prob(target.unsqueeze(1)).sum(-1)
    per_row = -torch.logsumexp(logn, -1)
    return (per_row * mask).sum() / mask.sum()


def case(name, N, K, D, spread=2.0):
    params = torch.cat([R.uniform(N, K, lo=-2, hi=2), R.uniform(N, K * D, lo=-spread, hi=spread),
                        R.uniform(N, K * D, lo=-1.5, hi=0.7)], 1).requires_grad_(True)
    target = R.uniform(N, D, lo=-2.5, hi=2.5).requires_grad_(True)
    mask = (R.uniform(N, lo=0, hi=1) > 0.25).double()
    mask[0] = 1
    loss = nll(params, target, mask, K)
    loss.backward()
    out[f"{name}.params"] = params.detach()
    out[f"{name}.target"] = target.detach()
    out[f"{name}.mask"] = mask
    out[f"{name}.k"] = torch.tensor([K])
    out[f"{name}.loss"] = loss.detach().reshape(1)
    out[f"{name}.grad_params"] = params.grad
    out[f"{name}.grad_target"] = target.grad


case("k1_d1", 6, 1, 1)
case("k3_d1", 12, 3, 1)
case("k5_d2", 10, 5, 2)
case("k2_d3_far", 8, 2, 3, spread=6.0)  # targets far from some components: log-sum-exp at work
case("k8_d1_many", 64, 8, 1)

os.makedirs(os.path.join(os.path.dirname(__file__), "fixtures"), exist_ok=True)
save(os.path.join(os.path.dirname(__file__), "fixtures", "mdn.safetensors"), out,
     {"generator": "test/gen_mdn.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors")
