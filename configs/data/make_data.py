#!/usr/bin/python3
"""Writes the small generated data files of configs/data/ (see README.md).

Deterministic: a fixed seed, Python's own Mersenne Twister, no other input.
Run from anywhere: python3 configs/data/make_data.py
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def balanced(rng, n_pairs):
    """A random balanced string of n_pairs bracket pairs over () and []."""
    if n_pairs == 0:
        return ""
    inner = rng.randrange(n_pairs)  # pairs inside the first bracket
    o, c = rng.choice(["()", "[]"])
    return o + balanced(rng, inner) + c + balanced(rng, n_pairs - 1 - inner)


def unbalanced(rng, n_pairs):
    """A near miss: a balanced string with one small edit that breaks it."""
    s = list(balanced(rng, n_pairs))
    while True:
        t = s[:]
        edit = rng.randrange(3)
        i = rng.randrange(len(t))
        if edit == 0:  # change one bracket into another
            t[i] = rng.choice([b for b in "()[]" if b != t[i]])
        elif edit == 1:  # swap two neighbours
            j = min(i + 1, len(t) - 1)
            t[i], t[j] = t[j], t[i]
        else:  # move one bracket elsewhere
            ch = t.pop(i)
            t.insert(rng.randrange(len(t) + 1), ch)
        u = "".join(t)
        if not is_balanced(u):
            return u


def is_balanced(s):
    stack = []
    for ch in s:
        if ch in "([":
            stack.append(ch)
        elif not stack or stack.pop() != {")": "(", "]": "["}[ch]:
            return False
    return not stack


def brackets(rng, n):
    lines = []
    for k in range(n):
        pairs = rng.randint(2, 10)
        if k % 2 == 0:
            s, lab = balanced(rng, pairs), "balanced"
        else:
            s, lab = unbalanced(rng, pairs), "unbalanced"
        assert is_balanced(s) == (lab == "balanced")
        lines.append(f"{lab}\t{s}")
    return lines


def date_roles(rng, n):
    """A date in one of six formats, each character tagged with its role:
    Y year, M month, D day, S separator.  Every date is unambiguous given
    the whole string (no month-first numeric format); a left-to-right
    tagger must guess the first characters of the numeric formats."""
    lines = []
    for _ in range(n):
        y, m = rng.randint(1900, 2099), rng.randint(1, 12)
        d = rng.randint(1, 28)
        name = MONTHS[m - 1]
        fmt = rng.randrange(6)
        parts = {
            0: [(f"{y:04d}", "Y"), ("-", "S"), (f"{m:02d}", "M"), ("-", "S"), (f"{d:02d}", "D")],
            1: [(f"{d:02d}", "D"), ("/", "S"), (f"{m:02d}", "M"), ("/", "S"), (f"{y:04d}", "Y")],
            2: [(f"{y:04d}", "Y"), ("/", "S"), (f"{m:02d}", "M"), ("/", "S"), (f"{d:02d}", "D")],
            3: [(name, "M"), (" ", "S"), (str(d), "D"), (", ", "S"), (str(y), "Y")],
            4: [(str(d), "D"), (" ", "S"), (name[:3], "M"), (" ", "S"), (str(y), "Y")],
            5: [(str(d), "D"), (".", "S"), (str(m), "M"), (".", "S"), (str(y), "Y")],
        }[fmt]
        s = "".join(p for p, _ in parts)
        tags = [t for p, t in parts for _ in p]
        assert len(tags) == len(s)
        lines.append(" ".join(tags) + "\t" + s)
    return lines


def series(rng, n):
    """Hourly 'load' with daily and weekly cycles and noise, and a
    'temp' that leads it by three hours."""
    rows = ["hour,temp,load"]
    for t in range(n):
        temp = 10 + 8 * math.sin(2 * math.pi * t / 24) + rng.gauss(0, 0.5)
        lead = 10 + 8 * math.sin(2 * math.pi * (t - 3) / 24)
        load = 50 + 2.0 * lead + 5 * math.sin(2 * math.pi * t / 168) + rng.gauss(0, 1.0)
        rows.append(f"{t},{temp:.3f},{load:.3f}")
    return rows


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    rng = random.Random(20240601)
    write("brackets.tsv", brackets(rng, 4000))
    write("date_roles.tsv", date_roles(rng, 3000))
    write("load.csv", series(rng, 3000))


if __name__ == "__main__":
    main()
