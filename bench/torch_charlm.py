"""The character language model of configs/devil-lm.json, trained in PyTorch
for the same updates on the same data split, to set beside reel's result
(README.md, "Results on real data").

Everything is read from the reel config and replicated, not re-chosen:
  data    the file (gzip/dictzip read with Python's gzip, as reel reads it
          with zlib), UTF-8 characters; train/valid/test are the first,
          middle and last parts by valid_frac/test_frac rounded as reel
          rounds (models/data.c reel__split_fracs); vocabulary <pad>, <unk>,
          then the training characters sorted bytewise; unseen -> <unk>
  batches the split cut into batch_size parallel streams of
          (n - 1) // B steps each (stream i starts at i * L), seq_len steps per
          batch (a shorter last one), the LSTM state carried from batch to
          batch and detached (truncated BPTT, k1 = k2 = seq_len), reset at
          each pass's start; evaluation the same with the same B
  model   embedding (N(0, 1) init), LSTM (uniform +-1/sqrt(H), PyTorch's
          default, as reel), dropout, linear (uniform +-1/sqrt(in))
  train   Adam (lr, betas 0.9/0.999, eps 1e-8), gradient norm clipped,
          cosine schedule lr_e = eta_min + (lr - eta_min)(1 + cos(pi e / t_max))/2
          with e the updates done and t_max = (n_train // (B * seq_len)) * epochs
          (models/train.c), for `epochs` passes over the training streams
Prints one JSON line: steps, held-out (test) loss and bits per character,
seconds.  Usage: python3 bench/torch_charlm.py configs/devil-lm.json
[--threads N] [--epochs N] [--max-steps N] [--seed N] [--path FILE]
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def split_fracs(n, vf, tf):
    nv = int(math.floor(n * vf + 0.5))
    nt = int(math.floor(n * tf + 0.5))
    nv = min(nv, n)
    nt = min(nt, n - nv)
    return n - nv - nt, n - nt


def streams(ids, B):
    """(B, L + 1) tensor: stream i is ids[i*L : i*L + L + 1] (inputs and next tokens)."""
    L = (len(ids) - 1) // B
    t = torch.tensor(ids, dtype=torch.long)
    return torch.stack([t[i * L:i * L + L + 1] for i in range(B)]), L


class CharLM(nn.Module):
    def __init__(self, V, E, H, p):
        super().__init__()
        self.emb = nn.Embedding(V, E)          # N(0, 1)
        self.rnn = nn.LSTM(E, H)               # uniform +-1/sqrt(H), time-major
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(H, V)
        k = 1 / math.sqrt(H)
        nn.init.uniform_(self.head.weight, -k, k)
        nn.init.uniform_(self.head.bias, -k, k)

    def forward(self, x, state):
        y, state = self.rnn(self.emb(x), state)
        return self.head(self.drop(y)), state


def evaluate(model, S, L, T):
    model.eval()
    tot, cnt, state = 0.0, 0, None
    with torch.no_grad():
        for t0 in range(0, L, T):
            n = min(T, L - t0)
            x = S[:, t0:t0 + n].t()
            y = S[:, t0 + 1:t0 + 1 + n].t()
            out, state = model(x, state)
            tot += nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum").item()
            cnt += y.numel()
    model.train()
    return tot / cnt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N updates (as train.steps; 0: epochs)")
    ap.add_argument("--path", default=None, help="data file (default: the config's, relative to it)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = json.load(open(a.config))
    d, tr, layers = cfg["data"], cfg["train"], cfg["model"]
    assert cfg["task"] == "lm" and d["source"] == "text" and d.get("tokens", "chars") == "chars"
    path = a.path or os.path.join(os.path.dirname(a.config), d["path"])
    T, B = d.get("seq_len", 64), tr.get("batch_size", 32)
    bp = tr.get("bptt", {})
    assert bp.get("k1", T) in (0, T) and bp.get("k2", T) in (0, T), "only k1 = k2 = seq_len is replicated"
    E = next(l["embedding_dim"] for l in layers if l["type"] == "embedding")
    rnn = next(l for l in layers if l["type"] == "lstm")
    assert rnn.get("num_layers", 1) == 1 and rnn.get("forget_bias", 0) == 0
    H = rnn["hidden_size"]
    p = next((l.get("p", 0.5) for l in layers if l["type"] == "dropout"), 0.0)
    opt_c = tr["optimizer"]
    assert opt_c["type"] == "adam"
    lr0 = opt_c["lr"]
    sc = tr.get("schedule", {"type": "constant"})
    eta_min = sc.get("eta_min", 0.0) if sc["type"] == "cosine" else None
    epochs = a.epochs if a.epochs is not None else tr["epochs"]

    text = read_text(path)
    n = len(text)
    ia, ib = split_fracs(n, d.get("valid_frac", 0.1), d.get("test_frac", 0.1))
    chars = sorted(set(text[:ia]), key=lambda c: c.encode("utf-8"))
    vocab = {c: i + 2 for i, c in enumerate(chars)}
    ids = [vocab.get(c, 1) for c in text]
    V = len(chars) + 2
    Str, Ltr = streams(ids[:ia], B)
    Ste, Lte = streams(ids[ib:], B)
    Sva, Lva = streams(ids[ia:ib], B)

    model = CharLM(V, E, H, p)
    opt = torch.optim.Adam(model.parameters(), lr=lr0, betas=(0.9, 0.999), eps=1e-8)
    t_max = max(1, (ia // (B * T)) * epochs)
    if a.max_steps:
        t_max = a.max_steps
    clip = tr.get("clip_norm", 0)
    step = 0
    t_start = time.time()
    for ep in range(epochs if not a.max_steps else 1 << 30):
        if a.max_steps and step >= a.max_steps:
            break
        state = None
        for t0 in range(0, Ltr, T):
            if a.max_steps and step >= a.max_steps:
                break
            m = min(T, Ltr - t0)
            x = Str[:, t0:t0 + m].t()
            y = Str[:, t0 + 1:t0 + 1 + m].t()
            if eta_min is not None:
                for g in opt.param_groups:
                    g["lr"] = eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * step / t_max)) / 2
            out, state = model(x, state)
            loss = nn.functional.cross_entropy(out.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            state = tuple(s.detach() for s in state)
            step += 1
            if step % 50 == 0:
                print(f"step {step}: loss {loss.item():.4f} lr {opt.param_groups[0]['lr']:.2e} "
                      f"{time.time() - t_start:.0f} s", file=sys.stderr, flush=True)
        print(f"epoch {ep + 1}/{epochs}: step {step} train loss {loss.item():.4f}", file=sys.stderr, flush=True)
    secs = time.time() - t_start
    test = evaluate(model, Ste, Lte, T)
    valid = evaluate(model, Sva, Lva, T)
    print(json.dumps({"steps": step, "valid_loss": round(valid, 5), "test_loss": round(test, 5),
                      "test_bpc": round(test / math.log(2), 4), "seconds": round(secs, 1),
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
