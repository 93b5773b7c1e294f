#!/usr/bin/env python3
"""cube_report.py PEER_TIMINGS CUBE_TIMINGS CREF_OUT CUBE_OUT OUT_MD - the query table of `make bench`.

Checks the cube's answers to Q1-Q7 (CUBE_OUT/Qn.csv, written by bench/cube_bench.c) against the peers'
C reference (CREF_OUT/Qn.csv) with the tolerance the peers' report.py uses (relative and absolute
1e-9), then prints a Markdown table of the median timings of databrain's engine next to SQLite,
PostgreSQL, DuckDB and the C bound measured in the same run (PEER_TIMINGS, the peers' timings.txt), as
ratios, and the verdict on the targets of BENCHMARKS.md: faster than the best peer on every query, and
within 3x of the C bound. The same text is written to OUT_MD. Exits 1 when an answer differs.
Python 3 standard library only.
"""
import csv
import math
import os
import sys

from import_report import load_kv, num  # the timings files of one run share a reader

QUERIES = ["series", "cross-section", "roll-up", "top-10", "dashboard", "completeness", "full scan"]
PEERS = [("SQLite", "sqlite"), ("PostgreSQL", "pg"), ("PostgreSQL exec", "pg_exec"), ("DuckDB", "duckdb")]
TARGET_BOUND = 3.0   # databrain within this factor of the C dense-array bound
START_UP_S = 3.0     # a 20 M-observation store serves its first query within 3 s (judged at scale 1.0)


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.1f µs" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def same(a, b):
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.reader(f) if r]


def check(cref_dir, cube_dir, q):
    """'ok (N rows)' or a description of the first difference."""
    ref = read_rows(os.path.join(cref_dir, "Q%d.csv" % q))
    path = os.path.join(cube_dir, "Q%d.csv" % q)
    if not os.path.exists(path):
        return "MISSING"
    got = read_rows(path)
    if len(ref) != len(got):
        return "MISMATCH: %d rows, the C reference has %d" % (len(got), len(ref))
    for i, (r, g) in enumerate(zip(ref, got)):
        if len(r) != len(g) or not all(same(a, b) for a, b in zip(r, g)):
            return "MISMATCH at row %d: %s, the C reference has %s" % (i + 1, ",".join(g), ",".join(r))
    return "ok (%d rows)" % len(got)


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    p, c = load_kv(argv[1]), load_kv(argv[2])
    cref_dir, cube_dir, out_md = argv[3], argv[4], argv[5]
    lines = ["# Queries in the cube: databrain vs peers (scale %s)" % p.get("scale", "?"), ""]
    cells = num(p, "gen_cells")
    lines.append("Data: the synthetic city of the import benchmark, %s observations in the store; Q1-Q7 as in "
                 "../shared/BENCHMARKS.md. Medians of %s timed runs after one warm-up; databrain's include "
                 "acquiring and releasing a cube version, as every request does. Peers: their own timings "
                 "from this run (PostgreSQL twice: psql \\timing and server execution only)."
                 % (c.get("cube_rows", "?"), p.get("runs", "?")))
    lines.append("")
    head = ["query", "databrain"] + [name for name, _ in PEERS] + ["C bound", "best peer ÷ databrain",
                                                                    "databrain ÷ C bound", "answers"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|" + "---:|" * (len(head) - 2) + "---|")
    bad_answers, slower, far = [], [], []
    for q in range(1, 8):
        mine = num(c, "cube_Q%d_ns" % q)
        peers = [num(p, "%s_Q%d_ns" % (key, q)) for _, key in PEERS]
        bound = num(p, "cref_Q%d_ns" % q)
        measured = [t for t in peers if t]
        best = min(measured) if measured else None
        answer = check(cref_dir, cube_dir, q)
        if not answer.startswith("ok"):
            bad_answers.append("Q%d" % q)
        speedup = best / mine if best and mine else None
        to_bound = mine / bound if bound and mine else None
        if speedup is None or speedup <= 1.0:
            slower.append("Q%d" % q)
        if to_bound is None or to_bound > TARGET_BOUND:
            far.append("Q%d" % q)
        row = ["Q%d %s" % (q, QUERIES[q - 1]), "**%s**" % fmt_ns(mine)] + [fmt_ns(t) for t in peers]
        row += [fmt_ns(bound), "%.1f×" % speedup if speedup else "n/a", "%.2f×" % to_bound if to_bound else "n/a",
                answer]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("## Targets (../shared/BENCHMARKS.md)")
    lines.append("- Faster than the best peer on every query: %s." %
                 ("met" if not slower else "**not met** for " + ", ".join(slower)))
    lines.append("- Within %.0f× of the C bound: %s." %
                 (TARGET_BOUND, "met" if not far else "**not met** for " + ", ".join(far)))
    lines.append("- Answers equal to the C reference's (tolerance 1e-9): %s." %
                 ("yes, all seven" if not bad_answers else "**no** for " + ", ".join(bad_answers)))
    load_s, rows = num(c, "cube_load_s"), num(c, "cube_rows")
    if load_s and rows:
        verdict = ("judged at scale 1.0 only" if p.get("scale") != "1.0"
                   else "met" if load_s <= START_UP_S else "**not met**")
        lines.append("- Start-up: the cube built from the store in %.2f s (%.2f M rows/s; catalog %s s before "
                     "it); target %.0f s for the full city: %s." %
                     (load_s, rows / load_s / 1e6, c.get("cube_catalog_s", "?"), START_UP_S, verdict))
    cube_bytes, rss = num(c, "cube_bytes"), num(c, "rss_mb")
    if cube_bytes and cells:
        lines.append("- Memory: cube cells %.0f MB for a dense size of %.0f MB (%.2f×; target ≤ 1.5×); peak "
                     "resident size of the benchmark process %s MB (with SQLite's page cache)." %
                     (cube_bytes / 1e6, cells * 8 / 1e6, cube_bytes / (cells * 8), "%.0f" % rss if rss else "?"))
    lines.append("")
    lines.append("Load average before the cube step: %s (the machine is shared: treat differences under "
                 "1.5× as noise)." % c.get("load_cube", "?"))
    text = "\n".join(lines) + "\n"
    with open(out_md, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 1 if bad_answers else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
