"""Issue 14's performance goals, judged from one `make bench` run.

Reads the JSON files the earlier steps of `make bench` wrote into DIR
(build/ by default) and prints one line per goal and case: the measured
value, the goal, "met" or "misses by X%", and, for a miss, what the same
run's numbers say about why.  Nothing here is a stored result: every value
comes from the files, and a missing file or number is said, not guessed.

  DIR/bench.json            reel_bench grid --json (1 thread, 2 threads on some cases)
  DIR/bench_torch.json      bench/torch_bench.py --out (PyTorch on the same cases; null without torch)
  DIR/bench_mem.json        reel_bench rnn --json on the memory case, in a fresh process
  DIR/bench_torch_mem.json  PyTorch on the memory case, in a fresh process
  DIR/bench_peak.json       reel_bench peak --json (1024^3 product, theoretical peak)

Needs only the Python standard library:  python3 bench/goals.py [DIR]"""
import json
import os
import sys

# issue 14's goals, reel tape ms / PyTorch ms at 1 thread: (cell, T, B, H, layers, bidirectional) -> goal
TORCH_GOALS = [
    (("lstm", 50, 32, 256, 1, 0), 0.54),
    (("lstm", 50, 32, 64, 1, 0), 0.33),
    (("lstm", 50, 1, 256, 1, 0), 0.15),
    (("lstm", 100, 1, 16, 1, 0), 0.015),
    (("lstm", 30, 64, 384, 1, 0), 0.6),
    (("lstm", 40, 16, 128, 2, 1), 0.48),
]
TINY = ("lstm", 100, 1, 16, 1, 0)
MEM_RATIO = 1.3    # tape's peak memory / hand-written step's, at B = 32
THREADS_GOAL = 1.7 # tape ms at 1 thread / at 2 threads, at B = 32, H >= 256


def tape_hand_goal(c):
    """The tape/hand goal of a case, or None where the issue sets none."""
    if key(c) == TINY:
        return 1.3
    if c["H"] >= 256:
        return 1.05
    if c["H"] == 64:
        return 1.15
    return None


def key(c):
    return (c["cell"], c["T"], c["B"], c["H"], c["layers"], c["bidirectional"])


def name(k):
    cell, T, B, H, layers, bi = k
    return "%s%s%s T%d B%d H%d" % ("2-layer " if layers > 1 else "", "bi-" if bi else "", cell.upper()
                                   if cell != "rnn" else "RNN", T, B, H)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def verdict(measured, goal, higher_is_better=False):
    """'met' or 'misses by X%' (how far the measured value is from the goal, relative to the goal)."""
    if (measured >= goal) if higher_is_better else (measured <= goal):
        return "met", True
    miss = 100 * ((goal / measured - 1) if higher_is_better else (measured / goal - 1))
    return "misses by %.*f%%" % (0 if miss >= 1 else 1, miss), False


class Tally:
    def __init__(self):
        self.met = self.missed = self.unmeasured = 0

    def add(self, ok):
        if ok is None:
            self.unmeasured += 1
        elif ok:
            self.met += 1
        else:
            self.missed += 1


def table(title, legend, rows, tally):
    """rows: (case, measured, goal, verdict, ok, why)"""
    print("\n%s\n%s\n" % (title, legend) if legend else "\n%s\n" % title)
    print("| case | measured | goal | verdict | why (from this run) |")
    print("|---|---|---|---|---|")
    for case, measured, goal, v, ok, why in rows:
        print("| %s | %s | %s | %s | %s |" % (case, measured, goal, v, why))
        if goal != "-":
            tally.add(ok)
    if not rows:
        print("| (no case of this goal in this run's files) | | | | |")


def ms(x):
    return "%.3f ms" % x


def spread(c, f):
    lo, hi = c.get(f + "_min"), c.get(f + "_max")
    return " [%.3f-%.3f]" % (lo, hi) if lo is not None and hi is not None else ""


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build"
    grid = load(os.path.join(d, "bench.json"))
    torch = load(os.path.join(d, "bench_torch.json"))
    mem = load(os.path.join(d, "bench_mem.json"))
    torch_mem = load(os.path.join(d, "bench_torch_mem.json"))
    peak = load(os.path.join(d, "bench_peak.json"))
    print("== Goals (issue 14), judged from this run ==")
    if grid is None:
        print("no %s: run `make bench` (or reel_bench grid --json > %s)" % ((os.path.join(d, "bench.json"),) * 2))
        return 1
    reps = sorted({c.get("reps", 0) for c in grid})
    print("Every time is the median of %s timed steps after 2 warm-ups ([min-max] beside it where shown); ratios are\n"
          "of medians.  tape = reel's tape, hand = the hand-written step (bench/hand.c), floor = that step's matrix\n"
          "products alone; MB = 1e6 bytes.  \"misses by X%%\" is how far the measured value is past the goal,\n"
          "relative to the goal.  Timings on a shared machine are noisy: read a near miss as a tie."
          % "/".join(map(str, reps)))
    loads = [c["load"] for c in grid if c.get("load", -1) >= 0]
    if loads:
        print("Machine load during the grid: 1-minute load average %.1f to %.1f on %d CPUs%s" % (
            min(loads), max(loads), os.cpu_count() or 1, " (above the CPU count: other work shared the cores, "
            "and the timings show it)" if max(loads) > (os.cpu_count() or 1) else ""))
    one = {key(c): c for c in grid if c["threads"] == 1}
    two = {key(c): c for c in grid if c["threads"] == 2}
    pt = {}
    has_torch = bool(torch and torch.get("torch"))
    if has_torch:
        pt = {key(c): c for c in torch["cases"] if c["threads"] == 1 and c["torch_ms"] is not None}
    tally = Tally()

    # 1. reel / PyTorch
    rows = []
    for k, goal in TORCH_GOALS:
        c = one.get(k)
        if c is None:
            rows.append((name(k), "-", "<= %.3g" % goal, "not measured (not in this run's grid)", None, ""))
            continue
        p = pt.get(k)
        if p is None:
            rows.append((name(k), "tape %s" % ms(c["tape_ms"]), "<= %.3g" % goal,
                         "not measured (no PyTorch)", None, ""))
            continue
        r = c["tape_ms"] / p["torch_ms"]
        v, ok = verdict(r, goal)
        budget = goal * p["torch_ms"]
        why = ""
        if not ok and c.get("floor_ms") is not None:
            if c["floor_ms"] > budget:
                why = ("the products: the GEMM floor alone, %s, is above goal x PyTorch = %s"
                       % (ms(c["floor_ms"]), ms(budget)))
            else:
                why = ("the elementwise/tape part: floor %s fits in goal x PyTorch = %s, tape - floor = %s "
                       "(hand - floor %s of elementwise work, tape - hand %s)"
                       % (ms(c["floor_ms"]), ms(budget), ms(c["tape_ms"] - c["floor_ms"]),
                          ms(c["hand_ms"] - c["floor_ms"]), ms(c["tape_ms"] - c["hand_ms"])))
        rows.append((name(k), "%.3f (tape %s%s / PyTorch %s%s)" % (r, ms(c["tape_ms"]), spread(c, "tape_ms"),
                                                                  ms(p["torch_ms"]), spread(p, "torch_ms")),
                     "<= %.3g" % goal, v, ok, why))
    table("1. reel tape ms / PyTorch ms, 1 thread", "  (PyTorch %s, same step: forward over T, loss sum(Y*R), "
          "full backward with input gradients)" % (torch.get("torch") if has_torch else "not installed"), rows, tally)

    # 2. tape / hand-written
    rows = []
    for k, c in one.items():
        goal = tape_hand_goal(c)
        if goal is None or c.get("hand_ms") is None:
            continue
        r = c["tape_ms"] / c["hand_ms"]
        v, ok = verdict(r, goal)
        why = ""
        if not ok:
            why = "tape - hand = %s per step (%d nodes, arena %.1f MB/step)" % (
                ms(c["tape_ms"] - c["hand_ms"]), c["nodes"], c["arena_step_bytes"] / 1e6)
        rows.append((name(k), "%.2f (tape %s%s / hand %s%s)" % (r, ms(c["tape_ms"]), spread(c, "tape_ms"),
                                                              ms(c["hand_ms"]), spread(c, "hand_ms")),
                     "<= %.2f" % goal, v, ok, why))
    table("2. reel tape ms / hand-written ms, 1 thread",
          "  (goal 1.05 at H >= 256, 1.15 at H = 64, 1.3 for the tiny LSTM T100 B1 H16; no goal at other sizes)",
          rows, tally)

    # 3. peak memory at B = 32
    rows = []
    for k, c in one.items():
        if c["B"] != 32 or not c.get("hand_bytes"):
            continue
        r = c["tape_bytes"] / c["hand_bytes"]
        v, ok = verdict(r, MEM_RATIO)
        why = ""
        if not ok:
            why = "arena %.1f MB/step vs hand %.1f MB: %.1f MB more, %d nodes' saved values" % (
                c["arena_step_bytes"] / 1e6, c["hand_bytes"] / 1e6,
                (c["arena_step_bytes"] - c["hand_bytes"]) / 1e6, c["nodes"])
        rows.append((name(k), "%.2f (tape arena peak %.1f MB / hand %.1f MB; tape RSS +%.1f MB)"
                     % (r, c["tape_bytes"] / 1e6, c["hand_bytes"] / 1e6, c.get("rss_growth_bytes", 0) / 1e6),
                     "<= %.1f" % MEM_RATIO, v, ok, why))
    table("3. Peak memory: reel tape's arena / hand-written step's buffers, B = 32, 1 thread", "", rows, tally)

    # 4. the memory case against PyTorch
    rows = []
    if mem is None:
        rows.append(("LSTM T200 B32 H512", "-", "< PyTorch", "not measured (no %s)" % os.path.join(d, "bench_mem.json"),
                     None, ""))
    else:
        c = mem[0]
        tm = torch_mem["cases"][0] if torch_mem and torch_mem.get("torch") else None
        steps = c.get("reps", 1) + 2
        desc = "reel tape RSS +%.1f MB after %d steps (arena peak %.1f MB); hand-written %.1f MB" % (
            c["rss_growth_bytes"] / 1e6, steps, c["tape_bytes"] / 1e6, c["hand_bytes"] / 1e6)
        if tm is None:
            rows.append((name(key(c)), desc, "< PyTorch's growth", "not measured (no PyTorch)", None, ""))
        else:
            ok = c["rss_growth_bytes"] < tm["torch_rss_growth_bytes"]
            why = "" if ok else "reel's arena per step %.1f MB vs hand-written %.1f MB" % (
                c["arena_step_bytes"] / 1e6, c["hand_bytes"] / 1e6)
            v = "met" if ok else "misses by %.0f%%" % (
                100 * (c["rss_growth_bytes"] / max(tm["torch_rss_growth_bytes"], 1) - 1))
            rows.append((name(key(c)), desc + "; PyTorch RSS +%.1f MB after %d steps" % (
                tm["torch_rss_growth_bytes"] / 1e6, tm["torch_steps"]), "< PyTorch's growth", v, ok, why))
    table("4. Memory case: resident-set growth over the first steps, each in a fresh process",
          "  (growth measured from just before the first step; the hand-written buffers exist before it)", rows, tally)

    # 5. threads
    rows = []
    ncpu = os.cpu_count() or 1
    for k, c2 in two.items():
        c1 = one.get(k)
        if c1 is None:
            continue
        s = c1["tape_ms"] / c2["tape_ms"]
        if c1["B"] == 32 and c1["H"] >= 256:
            v, ok = verdict(s, THREADS_GOAL, higher_is_better=True)
            goal = ">= %.1f" % THREADS_GOAL
        else:
            v, ok, goal = "(no goal)", None, "-"
        why = ""
        if ok is False and c1.get("floor_ms") is not None:
            fs = c1["floor_ms"] / c2["floor_ms"]
            e1, e2 = c1["tape_ms"] - c1["floor_ms"], c2["tape_ms"] - c2["floor_ms"]
            if fs < THREADS_GOAL:
                why = "the products: the GEMM floor itself speeds up only %.2fx (%s -> %s)" % (
                    fs, ms(c1["floor_ms"]), ms(c2["floor_ms"]))
            else:
                why = ("the elementwise/tape part: floor speeds up %.2fx, but tape - floor goes %s -> %s (%.2fx)"
                       % (fs, ms(e1), ms(e2), e1 / e2 if e2 > 0 else float("inf")))
        if ok is False and c2.get("load", -1) >= 0 and c2["load"] > ncpu - 0.5:
            why += ("; the machine was busy: 1-minute load average %.1f on %d CPUs after the 2-thread case, so its "
                    "threads shared cores with other work" % (c2["load"], ncpu))
        rows.append((name(k), "%.2fx (tape %s at 1 thread, %s at 2)" % (s, ms(c1["tape_ms"]), ms(c2["tape_ms"])),
                     goal, v, ok, why))
    rows = [r for r in rows if r[2] != "-"] + [r for r in rows if r[2] == "-"]
    table("5. 2 threads against 1: tape ms at 1 thread / tape ms at 2 threads", "  (goal at B = 32, H >= 256)",
          rows, tally)

    # 6. exactness
    diffs = [c["grad_rel_diff"] for c in grid if c.get("grad_rel_diff") is not None]
    print("\n6. Exactness: tape gradients (weights, biases, input) against the hand-written step's, every case, "
          "every run")
    if diffs:
        print("  largest |tape - hand| / max |gradient| over %d cases: %.2g (reel_bench grid fails, non-zero exit, "
              "above its float tolerance)" % (len(diffs), max(diffs)))
    else:
        print("  no grad diff in %s" % os.path.join(d, "bench.json"))

    # 7. products
    print("\n7. Matrix products: each recurrent product shape's GFLOP/s under every kernel choice and the one chosen:\n"
          "  the `reel_bench plans` table above.  Square 1024^3 product (no goal, for scale):")
    if peak is None:
        print("  not measured (no %s)" % os.path.join(d, "bench_peak.json"))
    else:
        for r in peak["runs"]:
            if r["peak_gflops"]:
                print("  %d thread(s): %.1f GFLOP/s = %.0f%% of %.1f GFLOP/s%s" % (
                    r["threads"], r["gemm1024_gflops"], 100 * r["gemm1024_gflops"] / r["peak_gflops"],
                    r["peak_gflops"], " (above the computed peak: its clock or FMA-unit count is too low)"
                    if r["gemm1024_gflops"] > r["peak_gflops"] else ""))
            else:
                print("  %d thread(s): %.1f GFLOP/s; theoretical peak not determined" % (
                    r["threads"], r["gemm1024_gflops"]))
        print("  %s" % peak["how"])

    print("\nGoals: %d met, %d missed, %d not measured (of %d case lines with a goal)" % (
        tally.met, tally.missed, tally.unmeasured, tally.met + tally.missed + tally.unmeasured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
