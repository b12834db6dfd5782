"""The benchmark grid in PyTorch, beside reel's numbers.

Reads reel's results (the JSON of `reel_bench grid --json` or `reel_bench
rnn --json`) and times the same cases with torch.nn.RNN/GRU/LSTM at the same
thread count: one step = forward over T steps, loss sum(Y * R), backward
with every weight and input gradient; warm-up, then the median of several
repetitions.  Prints one table with reel's tape, the hand-written step, the
GEMM floor, PyTorch, and the ratios.

Run with Debian's PyTorch (which multiplies with the same BLIS when
libblis is the system BLAS):  /usr/bin/python3 bench/torch_bench.py build/bench.json
[--reps 5] [--out build/bench_torch.json]; --out writes PyTorch's numbers
for bench/goals.py.  Without torch it prints reel's table alone, says so,
and writes null for PyTorch's numbers."""
import argparse
import json
import os
import statistics
import sys
import time


def rss_bytes():
    """The resident set of this process (bytes), 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def torch_step_ms(torch, c, reps):
    """Median, min and max ms of a step, and the resident-set growth (bytes)
    over the steps."""
    torch.set_num_threads(c["threads"])
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[c["cell"]]
    m = cls(c["I"], c["H"], num_layers=c["layers"], bidirectional=bool(c["bidirectional"]))
    x = torch.rand(c["T"], c["B"], c["I"], requires_grad=True)
    d = 2 if c["bidirectional"] else 1
    r = torch.rand(c["T"], c["B"], d * c["H"])
    times = []
    rss0 = rss_bytes()
    for k in range(reps + 2):
        t0 = time.perf_counter()
        m.zero_grad()
        x.grad = None
        y, _ = m(x)
        (y * r).sum().backward()
        if k >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), max(times), rss_bytes() - rss0


def case_name(c):
    return "%s%s%s T=%d B=%d H=%d" % ("2-layer " if c["layers"] > 1 else "", "bi-" if c["bidirectional"] else "",
                                     c["cell"], c["T"], c["B"], c["H"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reel_json", help="reel's results: reel_bench grid --json or reel_bench rnn --json")
    ap.add_argument("--reps", type=int, default=5, help="timed PyTorch steps per case after 2 warm-up steps (5)")
    ap.add_argument("--out", help="also write PyTorch's numbers to this JSON file (for bench/goals.py)")
    ap.add_argument("--title", help="a line printed above the table")
    a = ap.parse_args()
    with open(a.reel_json) as f:
        cases = json.load(f)
    try:
        import torch
        version = torch.__version__
    except ImportError:
        torch, version = None, None
        print("PyTorch is not installed (apt-get install python3-torch); showing reel alone\n")
    reps = a.reps
    if a.title:
        print(a.title)
    print("One training step (forward over T, loss sum(Y * R), full backward with every gradient), timed in\n"
          "%s rounds after 2 warm-up rounds; ms are medians with [min-max] over the rounds.  reel's three are\n"
          "interleaved in each round (reel_bench grid); PyTorch runs after, in this process, %d timed round(s).\n"
          "  tape: reel's tape; hand: bench/hand.c; floor: the hand-written step's matrix products alone\n"
          "  PyTorch/tape > 1: reel is faster; GFLOP/s: the step's product FLOPs / tape median; %% of peak:\n"
          "  against a 1024^3 GEMM at the same thread count\n"
          "  RSS +MB: resident-set growth over the steps (reel: its tape; PyTorch: its steps), MB = 1e6 bytes;\n"
          "  hand MB: the hand-written step's buffers; grad diff: largest |tape - hand| / max |gradient| over the\n"
          "  weight, bias and input gradients (reel_bench fails above float tolerance)\n" % (
              "/".join(sorted({str(c.get("reps", "?")) for c in cases})), reps))
    print("| case | threads | reel tape ms [min-max] | hand ms [min-max] | floor ms [min-max] | PyTorch ms [min-max] "
          "| tape/hand | tape/floor | PyTorch/tape | tape GFLOP/s | % of peak | tape RSS +MB | PyTorch RSS +MB | hand MB "
          "| grad diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for c in cases:
        pt, pt_lo, pt_hi, pt_rss = torch_step_ms(torch, c, reps) if torch else (None, None, None, None)
        out.append({k: c[k] for k in ("cell", "T", "B", "I", "H", "layers", "bidirectional", "threads")})
        out[-1].update({"torch_ms": pt, "torch_ms_min": pt_lo, "torch_ms_max": pt_hi, "torch_rss_growth_bytes": pt_rss,
                        "torch_steps": reps + 2})
        hand = c["hand_ms"] is not None
        print("| %s | %d | %.3f [%.3f-%.3f] | %s | %s | %s | %s | %s | %s | %.1f | %.0f%% | %.1f | %s | %s | %s |" % (
            case_name(c), c["threads"], c["tape_ms"], c.get("tape_ms_min", c["tape_ms"]),
            c.get("tape_ms_max", c["tape_ms"]),
            "%.3f [%.3f-%.3f]" % (c["hand_ms"], c.get("hand_ms_min") or c["hand_ms"], c.get("hand_ms_max") or c["hand_ms"])
            if hand else "-",
            "%.3f [%.3f-%.3f]" % (c["floor_ms"], c.get("floor_ms_min") or c["floor_ms"],
                                  c.get("floor_ms_max") or c["floor_ms"]) if hand else "-",
            "%.3f [%.3f-%.3f]" % (pt, pt_lo, pt_hi) if pt else "-",
            "%.2f" % (c["tape_ms"] / c["hand_ms"]) if hand else "-",
            "%.2f" % (c["tape_ms"] / c["floor_ms"]) if hand else "-",
            "%.2f" % (pt / c["tape_ms"]) if pt else "-",
            c["tape_gflops"], 100 * c["tape_gflops"] / c["peak_gflops"], c.get("rss_growth_bytes", 0) / 1e6,
            "%.1f" % (pt_rss / 1e6) if pt else "-", "%.1f" % (c["hand_bytes"] / 1e6) if hand else "-",
            "%.1e" % c["grad_rel_diff"] if c.get("grad_rel_diff") is not None else "-"), flush=True)
    if version:
        print("\nPyTorch %s, %s" % (version, torch.__config__.parallel_info().splitlines()[0]))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"torch": version, "cases": out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
