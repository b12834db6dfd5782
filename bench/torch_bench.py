"""The benchmark grid in PyTorch, beside reel's numbers.

Reads reel's results (the JSON of `reel_bench grid --json` or `reel_bench
rnn --json`) and times the same cases with torch.nn.RNN/GRU/LSTM at the same
thread count: one step = forward over T steps, loss sum(Y * R), backward
with every weight and input gradient; warm-up, then the median of several
repetitions.  Prints one table with reel's tape, the hand-written step, the
GEMM floor, PyTorch, and the ratios.

Run with Debian's PyTorch (which multiplies with the same BLIS when
libblis is the system BLAS):  /usr/bin/python3 bench/torch_bench.py build/bench.json
Without torch it prints reel's table alone and says so."""
import json
import statistics
import sys
import time


def torch_step_ms(torch, c, reps):
    torch.set_num_threads(c["threads"])
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[c["cell"]]
    m = cls(c["I"], c["H"], num_layers=c["layers"], bidirectional=bool(c["bidirectional"]))
    x = torch.rand(c["T"], c["B"], c["I"], requires_grad=True)
    d = 2 if c["bidirectional"] else 1
    r = torch.rand(c["T"], c["B"], d * c["H"])
    times = []
    for k in range(reps + 2):
        t0 = time.perf_counter()
        m.zero_grad()
        x.grad = None
        y, _ = m(x)
        (y * r).sum().backward()
        if k >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    try:
        import torch
        version = torch.__version__
    except ImportError:
        torch, version = None, None
        print("PyTorch is not installed (apt-get install python3-torch); showing reel alone\n")
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print("| case | threads | reel tape ms | hand-written ms | GEMM floor ms | PyTorch ms | tape/hand | tape/floor "
          "| PyTorch/tape | tape GFLOP/s | % of GEMM peak | tape MB | hand MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        name = "%s%s%s T=%d B=%d H=%d" % ("2-layer " if c["layers"] > 1 else "", "bi-" if c["bidirectional"] else "",
                                           c["cell"], c["T"], c["B"], c["H"])
        pt = torch_step_ms(torch, c, reps) if torch else None
        print("| %s | %d | %.3f | %.3f | %.3f | %s | %.2f | %.2f | %s | %.1f | %.0f%% | %.1f | %.1f |" % (
            name, c["threads"], c["tape_ms"], c["hand_ms"], c["floor_ms"], "%.3f" % pt if pt else "-",
            c["tape_ms"] / c["hand_ms"], c["tape_ms"] / c["floor_ms"], "%.2f" % (pt / c["tape_ms"]) if pt else "-",
            c["tape_gflops"], 100 * c["tape_gflops"] / c["peak_gflops"], c["tape_bytes"] / 1e6,
            c["hand_bytes"] / 1e6), flush=True)
    if version:
        print("\nPyTorch %s, %s" % (version, torch.__config__.parallel_info().splitlines()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
