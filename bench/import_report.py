#!/usr/bin/env python3
"""import_report.py PEER_TIMINGS DATABRAIN_TIMINGS OUT_MD - the import table of `make bench`.

Reads the peers' timings.txt (written by ../shared/bench/peers/run.sh) and databrain's (written by
bench/run.sh), both key=value lines, and prints a Markdown report: for each engine its load time,
rows/s, the ratio of databrain's rows/s to that engine's, and its size on disk; then the verdict on
the targets of BENCHMARKS.md and the durability and validation settings in force. The same text is
written to OUT_MD. Python 3 standard library only.
"""
import statistics
import sys

TARGET_RATIO_DUCKDB = 1.0      # databrain rows/s over DuckDB's, same run
TARGET_FULL_SCALE_S = 10.0     # the full city (about 20 M rows) in under 10 s


def load_kv(path):
    """Returns the key=value pairs of a timings file; a later key wins."""
    kv = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                kv[k] = v
    return kv


def num(kv, key):
    """The value of key as a float, or None when it is absent or not a number."""
    try:
        return float(kv[key])
    except (KeyError, ValueError):
        return None


def fmt_bytes(b):
    if b is None:
        return "n/a"
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1000 or unit == "GB":
            return "%.0f %s" % (b, unit) if b >= 10 or unit == "B" else "%.2f %s" % (b, unit)
        b /= 1000.0
    return "n/a"


def fmt_rate(r):
    return "%.2f M" % (r / 1e6) if r else "n/a"


def engines(p, d):
    """(name, load seconds, bytes on disk, note) for databrain, then each peer, then the C bound."""
    med = statistics.median(float(x) for x in d["databrain_import_runs_s"].split())
    disk = (num(d, "databrain_db_bytes") or 0) + (num(d, "databrain_wal_bytes") or 0)
    out = [("**databrain** `import` (median of %s)" % d.get("runs", "?"), med, disk, None)]
    out.append(("SQLite %s `.import` + ANALYZE" % p.get("sqlite_cli", ""), num(p, "sqlite_load_s"),
                num(p, "sqlite_db_bytes"), None))
    out.append(("PostgreSQL %s COPY + PK + VACUUM" % p.get("pg_version", ""), num(p, "pg_load_s"),
                num(p, "pg_obs_total_bytes"), None))
    out.append(("DuckDB %s `read_csv` + CHECKPOINT" % p.get("duckdb_version", ""), num(p, "duckdb_load_s"),
                num(p, "duckdb_db_bytes"), None))
    mb = num(p, "cref_array_MB")
    out.append(("C dense arrays (bound: parse only, no durability)", num(p, "cref_load_s"),
                mb * 1e6 if mb else None, "in RAM"))
    return out


def table(p, d, rows):
    """The Markdown table lines, databrain's load seconds and its ratio to DuckDB (None if unknown)."""
    lines = ["| engine | load | rows/s | databrain ÷ engine (rows/s) | on disk |",
             "|---|---:|---:|---:|---:|"]
    eng = engines(p, d)
    db_s = eng[0][1]
    ratio = [secs / db_s if secs and db_s else None for _, secs, _, _ in eng]
    for i, (name, secs, disk, note) in enumerate(eng):
        cells = [name, "%.2f s" % secs if secs else "n/a", fmt_rate(rows / secs if secs else None),
                 "—" if i == 0 else ("%.2f" % ratio[i] if ratio[i] else "n/a"),
                 fmt_bytes(disk) + (" (%s)" % note if note and disk else "")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines, db_s, ratio[3]


def verdicts(p, d, rows, db_s, duck_ratio):
    out = []
    if duck_ratio:
        out.append("- Load rate vs DuckDB in this run: **%.2f×** (target ≥ %.1f): %s."
                   % (duck_ratio, TARGET_RATIO_DUCKDB, "met" if duck_ratio >= TARGET_RATIO_DUCKDB else "NOT met"))
    if float(d.get("scale", "0")) >= 1.0:
        out.append("- %s rows in %.2f s (target: the full city in under %.0f s): %s."
                   % ("{:,}".format(rows), db_s, TARGET_FULL_SCALE_S, "met" if db_s < TARGET_FULL_SCALE_S else "NOT met"))
    else:
        out.append("- The full-scale target (about 20 M rows in under %.0f s) is judged only at scale 1.0; this run "
                   "is scale %s." % (TARGET_FULL_SCALE_S, d.get("scale")))
    if d.get("peers_reused") == "1":
        out.append("- **The peers were not measured in this run** (SKIP_PEERS=1 reused an earlier timings.txt): "
                   "ratios are indicative only.")
    return out


def settings(p, d):
    """The durability and validation settings of every engine, as Markdown bullets."""
    if "databrain_sync_calls" in d:
        calls = d["databrain_sync_calls"].replace(",", ", ") or "**no sync call at all**"
        synced = "; an untimed import under strace made these sync calls (count, call, file): %s" % calls
    else:
        synced = "; fsync check not run"
    return [
        "- **databrain:** SQLite store; pragmas set in src/store: synchronous=%s, journal_mode=%s (the file "
        "is in %s mode after the import), page size %s%s. The import is the production path "
        "(src/ingest/ingest.h): every row is resolved against the catalog, its period parsed as the "
        "indicator's periodicity (month), its value checked (finite, in range), duplicates in the batch "
        "refused; the batch is all-or-nothing and the command returns after the commit. Its output: `%s`. "
        "Timed: the `import` command alone (wall clock, process start to exit); `init` and the catalog "
        "imports took %s s before it and are not included."
        % (d.get("databrain_source_synchronous"), d.get("databrain_source_journal_mode"),
           d.get("databrain_journal_mode"), d.get("databrain_page_size"), synced,
           d.get("databrain_import_output", ""), d.get("databrain_run1_catalog_s")),
        "- **SQLite:** WAL, synchronous=NORMAL, 4 GB cache, a `WITHOUT ROWID` table with the primary key, "
        "one `.import` transaction, then WAL checkpoint and ANALYZE (all timed). Rows are typed only by "
        "column affinity; no reference checks.",
        "- **PostgreSQL:** fsync on, wal_level=minimal, `COPY … FREEZE` in one transaction, then the primary "
        "key, VACUUM ANALYZE and CHECKPOINT (all timed). Types checked; no reference checks.",
        "- **DuckDB:** `CREATE TABLE AS SELECT … read_csv` with declared types (2 threads), then CHECKPOINT "
        "(timed). Types checked; no key, no reference checks.",
    ]


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    p, d = load_kv(argv[1]), load_kv(argv[2])
    rows = int(p["gen_rows"])
    tab, db_s, duck_ratio = table(p, d, rows)
    runs = d["databrain_import_runs_s"].split()
    text = ["# Import benchmark: databrain vs peers (scale %s)" % d.get("scale"), "",
            "Data: `obs.csv` of the synthetic city, %s rows, %s; every engine loads the same file on the same "
            "machine (%s, %s GB RAM), the CSV warm in the page cache. Stored rows checked: %s (by %s)."
            % ("{:,}".format(rows), fmt_bytes(num(p, "csv_bytes")), p.get("cpu", "?"), p.get("mem_gb", "?"),
               "{:,}".format(int(d["databrain_rows"])), d.get("databrain_count_by")),
            ""] + tab + [
            "",
            "databrain import runs: %s s (each into a fresh store); the peers load once each. Commit %s "
            "(%s uncommitted files), binary `%s`."
            % (", ".join(runs), d.get("commit"), d.get("uncommitted_files"), d.get("binary")),
            "", "## Targets (../shared/BENCHMARKS.md)"] + verdicts(p, d, rows, db_s, duck_ratio) + [
            "", "## Durability and validation"] + settings(p, d) + [
            "", "Load average before each phase: "
            + ", ".join("%s %s" % (k[5:], v) for k, v in list(p.items()) + list(d.items()) if k.startswith("load_"))
            + ". The machine is shared: treat differences under 1.5× as noise.", ""]
    out = "\n".join(text) + "\n"
    with open(argv[3], "w", encoding="utf-8") as f:
        f.write(out)
    sys.stdout.write(out)


if __name__ == "__main__":
    main(sys.argv)
