"""One forward pass of torch.nn.LSTM/GRU/RNN under torch.no_grad(), beside
`reel_bench forward` (same T, B, H, one layer, input size H, threads).

    /usr/bin/python3 bench/torch_forward.py lstm 50 32 256 [threads] [reps]

Prints the median milliseconds of reps timed passes after two warm-ups."""
import statistics
import sys
import time


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    import torch
    cell, T, B, H = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 21
    torch.set_num_threads(threads)
    m = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](H, H)
    x = torch.rand(T, B, H) * 2 - 1
    times = []
    with torch.no_grad():
        for k in range(reps + 2):
            t0 = time.perf_counter()
            m(x)
            if k >= 2:
                times.append((time.perf_counter() - t0) * 1e3)
    print("torch.no_grad() forward %s T=%d B=%d H=%d, %d thread%s: %.3f ms (PyTorch %s)" % (
        cell, T, B, H, threads, "" if threads == 1 else "s", statistics.median(times), torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
