#!/usr/bin/env bash
# forecast.sh - the forecasting benchmark: `databrain forecast eval` against R's forecast::ets and
# forecast::thetaf on the same series, the same hold-out and the same machine, in one run.
#
# Data (../shared/data/forecast): the 1,001 series of the M1 competition with its hold-out horizons
# (m1_long.csv), and the classic series of R's datasets and forecast packages (r_datasets_long.csv) with a
# hold-out of the last `frequency` points (24 for monthly series; one point for annual ones; frequency
# below 1, as uspop's 0.1, counts as 1), written in the same long format.
# For each data set: bench/forecast.R fits ets and thetaf in R (timing only the loop of fits and
# forecasts), then databrain forecast eval runs combo (its default), ets and theta (wall time of the
# whole command, reading included). Accuracy uses the same formulas on both sides (sMAPE and MASE
# averaged over series, 95% coverage pooled over test points). The table goes to stdout and to
# $BENCH_DIR/forecast/forecast.md, with the targets of ../shared/BENCHMARKS.md: databrain's default more
# accurate than both R methods (sMAPE and MASE) and at least 50x faster than forecast::ets.
#
# Installs r-base-core and r-cran-forecast with apt-get when R's forecast package is missing.
# Environment (all optional): SHARED (default <repository>/../shared), DATABRAIN_BIN (default
# <repository>/build/databrain), BENCH_DIR (default /tmp/databrain-bench), SKIP_R=1 (reuse the R
# figures of the last run of each data set).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
BIN=${DATABRAIN_BIN:-$REPO/build/databrain}
WORK=$(realpath -m "${BENCH_DIR:-/tmp/databrain-bench}")/forecast
DATA=$SHARED/data/forecast

die() { echo "bench/forecast: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ -x "$BIN" ] || die "$BIN not found: build it with 'make' (or set DATABRAIN_BIN)"
[ -f "$DATA/m1_long.csv" ] || die "$DATA/m1_long.csv not found (set SHARED=/path/to/shared)"
[ -f "$DATA/r_datasets_long.csv" ] || die "$DATA/r_datasets_long.csv not found"
if ! Rscript -e 'suppressMessages(library(forecast))' > /dev/null 2>&1; then
  log "installing r-base-core and r-cran-forecast"
  "$REPO/scripts/need-packages" r-base-core r-cran-forecast
  Rscript -e 'suppressMessages(library(forecast))' > /dev/null 2>&1 || die "R's forecast package does not load"
fi
mkdir -p "$WORK"
RES=$WORK/results.txt
[ "${SKIP_R:-0}" = 1 ] && [ -f "$RES" ] && grep -v '^databrain ' "$RES" > "$RES.r" || : > "$RES.r"
: > "$RES"

# The R classics in the long format of forecast eval, with their hold-out.
python3 - "$DATA/r_datasets_long.csv" "$WORK/rdatasets_long.csv" << 'EOF'
import csv, sys
from collections import OrderedDict
series = OrderedDict()
with open(sys.argv[1], newline="") as f:
    for r in csv.DictReader(f):
        series.setdefault((r["package"], r["name"]), []).append(r)
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["series_id", "category", "type", "frequency", "horizon", "t", "time", "value", "split"])
    for (package, name), rows in series.items():
        m = max(1, int(round(float(rows[0]["frequency"]))))
        h = 24 if m == 12 else m
        n = len(rows)
        for i, r in enumerate(rows):
            w.writerow([name, package, "R", m, h, r["t"], r["time"], r["value"], "train" if i < n - h else "test"])
EOF

for set in m1 rdatasets; do
  input=$DATA/m1_long.csv
  [ "$set" = rdatasets ] && input=$WORK/rdatasets_long.csv
  if grep -q "^R $set " "$RES.r"; then
    log "$set: reusing R's figures of the last run"
    grep "^R $set " "$RES.r" >> "$RES"
  else
    log "$set: R forecast::ets and forecast::thetaf (ets takes minutes on M1)"
    mkdir -p "$WORK/r-$set"
    Rscript "$HERE/forecast.R" "$input" "$WORK/r-$set" 2> "$WORK/r-$set.log" | sed "s/^/R $set /" >> "$RES" ||
      die "R failed on $set (log: $WORK/r-$set.log)"
  fi
  for method in combo ets theta; do
    log "$set: databrain forecast eval --method $method"
    s=$EPOCHREALTIME
    line=$("$BIN" -q forecast eval --input "$input" --method "$method" --output "$WORK/databrain-$set-$method.csv") ||
      die "databrain forecast eval failed on $set ($method)"
    e=$EPOCHREALTIME
    wall=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
    echo "databrain $set method=$method ${line% seconds=*} seconds=$wall" >> "$RES"
  done
done
rm -f "$RES.r"

python3 - "$RES" "$WORK/forecast.md" << 'EOF'
import sys
rows = []
for line in open(sys.argv[1]):
    who, data, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    d["who"], d["set"] = who, data
    rows.append(d)
def num(x):
    try:
        return float(x)
    except ValueError:
        return float("nan")
out = ["| data | method | series | sMAPE | MASE | coverage 95% | seconds | series/s | speed vs R ets |",
       "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
verdicts = []
for data in ("m1", "rdatasets"):
    group = [r for r in rows if r["set"] == data]
    r_ets = next(r for r in group if r["who"] == "R" and r["method"] == "ets")
    for r in group:
        secs = num(r["seconds"])
        name = ("R forecast::" if r["who"] == "R" else "databrain ") + r["method"]
        out.append(f"| {data} | {name} | {r['series']} | {num(r['smape']):.3f} | {num(r['mase']):.3f} | "
                   f"{num(r['coverage95']):.1f} | {secs:.2f} | {int(r['series']) / secs:.0f} | "
                   f"{num(r_ets['seconds']) / secs:.1f}x |")
    combo = next(r for r in group if r["who"] == "databrain" and r["method"] == "combo")
    peers = [r for r in group if r["who"] == "R"]
    better = all(num(combo[k]) < num(p[k]) for p in peers for k in ("smape", "mase"))
    ratio = num(r_ets["seconds"]) / num(combo["seconds"])
    verdicts.append(f"{data}: databrain combo {'beats' if better else 'does NOT beat'} R ets and thetaf on sMAPE "
                    f"and MASE; {ratio:.0f}x the speed of R ets (target 50x: {'met' if ratio >= 50 else 'NOT met'})")
text = "\n".join(out + [""] + verdicts) + "\n"
print(text, end="")
open(sys.argv[2], "w").write(text)
EOF
log "table written to $WORK/forecast.md"
