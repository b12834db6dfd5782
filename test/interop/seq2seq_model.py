# PyTorch module for test/interop/seq2seq.json, written by `reel export`.
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


class Attention(nn.Module):
    """reel's attention (layers/seq2seq.h) over keys (S, B, K) for a query (B, Q):
    dot v = s . h_j; general s^T W h_j, W (Q, K); additive v^T tanh(W_q s + W_k h_j),
    W_q (A, Q), W_k (A, K), v (1, A).  Padding gets weight 0."""

    def __init__(self, kind, query_size, key_size, attn_size):
        super().__init__()
        self.kind = kind
        if kind == "general":
            self.W = nn.Parameter(torch.empty(query_size, key_size))
        elif kind == "additive":
            self.W_q = nn.Parameter(torch.empty(attn_size, query_size))
            self.W_k = nn.Parameter(torch.empty(attn_size, key_size))
            self.v = nn.Parameter(torch.empty(1, attn_size))

    def memory(self, keys, lengths):
        """What every decoder step reuses: keys (B, S, K), W_k h_j (S, B, A), the padding mask (B, S)."""
        proj = keys @ self.W_k.t() if self.kind == "additive" else None
        pad = step_mask(lengths, keys.shape[0], keys)[:, :, 0].t() == 0
        return keys.transpose(0, 1), proj, pad

    def forward(self, mem, query):
        keys, proj, pad = mem
        if self.kind == "additive":
            e = torch.tanh(proj + query @ self.W_q.t())  # (S, B, A)
            score = (e @ self.v.t())[:, :, 0].t()  # (B, S)
        else:
            q = query @ self.W if self.kind == "general" else query
            score = (keys @ q.unsqueeze(2))[:, :, 0]
        w = torch.softmax(score.masked_fill(pad, float("-inf")), dim=1)
        return (w.unsqueeze(1) @ keys)[:, 0], w


class Model(nn.Module):
    """test/interop/seq2seq.json: seq2seq, lstm cells, encoder 2 layers bidirectional, decoder 2 layers, attention additive, input feeding, bridge.
    Target ids: pad 0, bos 1, eos 2.  Per decoder step (Luong et al. 2015):
      x_t = [emb(y_{t-1}); h~_{t-1}]; h_t = decoder(x_t, state); c_t = attn(h_t, encoder outputs)
      h~_t = tanh(combine([c_t; h_t])); logits = out(h~_t)"""

    pad, bos, eos = 0, 1, 2

    def __init__(self):
        super().__init__()
        self.src_emb = nn.Embedding(6, 4)
        self.tgt_emb = nn.Embedding(8, 4)
        self.encoder = nn.LSTM(4, 3, num_layers=2, bidirectional=True)
        self.decoder = nn.LSTM(10, 6, num_layers=2)  # stepped by hand
        self.attn = Attention("additive", 6, 6, 5)
        self.bridge_h = nn.Linear(6, 6)
        self.bridge_c = nn.Linear(6, 6)
        self.combine = nn.Linear(12, 6, bias=False)
        self.out = nn.Linear(6, 8)
        self.drop = nn.Dropout(0)

    def encode(self, src, src_len):
        """src (S, B) ids, src_len (B): the attention memory and the decoder's initial state."""
        S, B = src.shape
        x = self.drop(self.src_emb(src))
        packed = pack_padded_sequence(x, src_len.cpu().long(), enforce_sorted=False)
        y, fin = self.encoder(packed)
        y = pad_packed_sequence(y, total_length=S)[0]  # (S, B, 6)
        mem = self.attn.memory(y, src_len)
        # bridge: tanh(W_b [the top layer's final states, both directions] + b_b)
        h_n, c_n = fin
        h = torch.tanh(self.bridge_h(torch.cat([h_n[-2], h_n[-1]], 1)))
        c = torch.tanh(self.bridge_c(torch.cat([c_n[-2], c_n[-1]], 1)))
        h0 = h.unsqueeze(0).repeat(2, 1, 1)
        state = (h0, c.unsqueeze(0).repeat(2, 1, 1))
        return mem, state, y.new_zeros(B, 6)

    def step(self, mem, state, feed, ids):
        """One decoder step from input ids (B): logits (B, 8), the new state, h~, attention weights."""
        x = self.drop(self.tgt_emb(ids))
        x = torch.cat([x, feed], 1)
        h, state = self.decoder(x.unsqueeze(0), state)
        h = h[0]
        c, w = self.attn(mem, h)
        hat = torch.tanh(self.combine(torch.cat([c, h], 1)))
        logits = self.out(self.drop(hat))
        return logits, state, hat, w

    def forward(self, src, src_len, tgt):
        """Teacher forcing: logits (T, B, 8) for tgt (T, B), the decoder's inputs being bos, tgt[:-1]."""
        mem, state, feed = self.encode(src, src_len)
        ids = torch.full_like(tgt[0], self.bos)
        logits = []
        for t in range(tgt.shape[0]):
            out, state, feed, _ = self.step(mem, state, feed, ids)
            logits.append(out)
            ids = tgt[t]
        return torch.stack(logits)

    def reel_loss(self, logits, tgt):
        """reel's loss: mean cross-entropy over the target tokens that are not pad."""
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1).long(), ignore_index=self.pad)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "test/interop/seq2seq.params.safetensors"
    model = Model().double().eval()
    model.load_state_dict(load_safetensors(path))  # strict: every name and shape must match
    print(f"loaded {len(model.state_dict())} tensors from {path}")
