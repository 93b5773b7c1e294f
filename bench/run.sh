#!/usr/bin/env bash
# run.sh [SCALE] - the import benchmark behind `make bench` (default scale 1.0 = 19.7 M rows).
#
# In one run on one machine: (1) the peers script ../shared/bench/peers/run.sh generates the synthetic
# city CSV and loads it into SQLite, PostgreSQL 15 and DuckDB (and times their queries); (2) the real
# databrain binary imports the same obs.csv into a fresh store RUNS times (median reported), each time
# checking the stored row count; (3) bench/import_report.py prints databrain's rows/s next to each peer's
# and writes the table to $BENCH_DIR/results/import.md. Then (4) bench/cube_bench builds the in-memory
# cube from the store the last import left and runs the seven peer queries Q1-Q7 in the engine;
# bench/cube_report.py checks its answers against the peers' C reference and prints its median timings
# next to the peers' and the C bound's, into $BENCH_DIR/results/cube.md. Every figure is a ratio within
# this run (BENCHMARKS.md): the machine is shared and absolute times drift.
#
# Environment (all optional):
#   RUNS            peer query runs (passed through) and databrain imports; default 5
#   KEEP_DATA=1     passed to the peers script: reuse the generated CSV of the same scale
#   SKIP_PEERS=1    reuse the last peers timings.txt of this scale (with its data) instead of running the
#                   peers; the report then says the peers were not measured in this run
#   FSYNC_CHECK=0   skip the extra untimed import under strace that counts fsync calls (default 1)
#   SHARED          the shared folder; default <repository>/../shared
#   PEERBENCH_DIR   the peers' work folder (data, databases, timings); default /tmp/databrain-peerbench
#   BENCH_DIR       databrain's work folder (bench.db, results/); default /tmp/databrain-bench
#   DATABRAIN_BIN   the binary to measure; default <repository>/build/databrain
#   CUBE_BENCH      the query benchmark program; default cube_bench beside DATABRAIN_BIN
#   SKIP_CUBE=1     skip step 4 (the queries in the cube)
#   SKIP_HTTP=1     skip step 5 (the HTTP figures of bench/http.sh)
#   SKIP_FORECAST=1 skip step 6 (bench/forecast.sh: databrain against R's forecast package)
#   SKIP_ALERTS=1   skip step 7 (bench/alerts.sh: from an accepted POST to the alert on the event stream)
set -euo pipefail

SCALE=${1:-${SCALE:-1.0}}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
PEERS=$SHARED/bench/peers
PEERBENCH_DIR=$(realpath -m "${PEERBENCH_DIR:-/tmp/databrain-peerbench}")
export PEERBENCH_DIR
WORK=$(realpath -m "${BENCH_DIR:-/tmp/databrain-bench}")
BIN=${DATABRAIN_BIN:-$REPO/build/databrain}
DATA=$PEERBENCH_DIR/data
PT=$PEERBENCH_DIR/results/scale-$SCALE/timings.txt
RES=$WORK/results
T=$RES/timings.txt
DB=$WORK/bench.db
STORE=sqlite:$DB

die() { echo "bench: $*" >&2; exit 1; }
trap 'echo "bench: stopped by a failed command at line $LINENO of $0" >&2' ERR
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$RES/run.log" >&2; }
kv() { echo "$1=$2" >> "$T"; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
fsize() { if [ -f "$1" ]; then stat -c %s "$1"; else echo 0; fi; }
db() { "$BIN" --store "$STORE" "$@"; }

[[ $SCALE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "scale '$SCALE' is not a number (e.g. 1.0 or 0.1)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS='$RUNS' is not a positive integer"
[ -x "$PEERS/run.sh" ] || die "peers script not found at $PEERS/run.sh (set SHARED=/path/to/shared)"
[ -x "$BIN" ] || die "$BIN not found: build it with 'make' (or set DATABRAIN_BIN)"
"$BIN" --help > /dev/null 2>&1 || die "$BIN --help failed"

mkdir -p "$RES"
: > "$RES/run.log"
: > "$T"
kv scale "$SCALE"
kv runs "$RUNS"
kv binary "$BIN"
kv commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
kv uncommitted_files "$(git -C "$REPO" status --porcelain 2>/dev/null | wc -l)"

# The peers' timings are reusable only when that run finished (total_s is its last key) and the data it
# measured is still in place.
peers_reusable() {
  [ -f "$PT" ] && grep -q '^total_s=' "$PT" && [ -f "$DATA/obs.csv" ] && [ "$(cat "$DATA/.scale" 2>/dev/null)" = "$SCALE" ] &&
    [ "$(grep '^csv_bytes=' "$PT" | cut -d= -f2)" = "$(fsize "$DATA/obs.csv")" ]
}

# ---------------- 1. peers ----------------
if [ "${SKIP_PEERS:-0}" = 1 ] && peers_reusable; then
  log "SKIP_PEERS=1: reusing $PT (measured $(date -r "$PT" '+%F %T'))"
  kv peers_reused 1
else
  if [ "${SKIP_PEERS:-0}" = 1 ]; then
    log "SKIP_PEERS=1 but no usable peers timings for scale $SCALE: running them"
  fi
  log "peers: $PEERS/run.sh $SCALE (work folder $PEERBENCH_DIR)"
  KEEP_DATA=${KEEP_DATA:-0} RUNS=$RUNS "$PEERS/run.sh" "$SCALE"
  peers_reusable || die "the peers run left no timings or data for scale $SCALE in $PEERBENCH_DIR"
  kv peers_reused 0
fi
GEN_ROWS=$(grep '^gen_rows=' "$PT" | cut -d= -f2)
[ -n "$GEN_ROWS" ] || die "$PT has no gen_rows"

# ---------------- 2. databrain ----------------
# Checks that the store holds every generated row, counted by "sql" (SELECT count(*) FROM obs on the
# file: quick, after every run) or "cli" (databrain export --count: the product's read path, once).
check_count() {
  local how=$1 n
  if [ "$how" = sql ]; then
    n=$(sqlite3 -readonly "$DB" 'SELECT count(*) FROM obs') || die "SELECT count(*) FROM obs failed on $DB"
  else
    n=$(db export --count) || die "databrain export --count failed on $DB"
  fi
  [ "$n" = "$GEN_ROWS" ] || die "the store holds $n rows (counted by $how), the CSV $GEN_ROWS"
}

# One import into a fresh store: init + catalog import (into CATALOG_S), then the timed import of
# obs.csv (into IMPORT_S). Leaves the store in place; stops the benchmark when a command fails.
fresh_import() {
  local tag=$1 s m e
  rm -f "$DB" "$DB-wal" "$DB-shm" "$DB-journal"
  s=$EPOCHREALTIME
  {
    db init
    db catalog import orgunits "$DATA/orgunits.csv"
    db catalog import indicators "$DATA/indicators.csv" --periodicity month
  } > "$RES/catalog-$tag.log" 2>&1 || { tail -20 "$RES/catalog-$tag.log" >&2; die "catalog set-up failed (log: $RES/catalog-$tag.log)"; }
  m=$EPOCHREALTIME
  db import "$DATA/obs.csv" > "$RES/import-$tag.log" 2>&1 || { tail -20 "$RES/import-$tag.log" >&2; die "import failed (log: $RES/import-$tag.log)"; }
  e=$EPOCHREALTIME
  CATALOG_S=$(dt "$s" "$m") IMPORT_S=$(dt "$m" "$e")
}

times=()
for r in $(seq "$RUNS"); do
  kv "load_databrain_run$r" "$(cut -d' ' -f1 /proc/loadavg)"
  fresh_import "$r"
  db_bytes=$(fsize "$DB")
  wal_bytes=$(fsize "$DB-wal")
  check_count sql
  log "databrain run $r/$RUNS: import $IMPORT_S s, catalog $CATALOG_S s, store $((db_bytes + wal_bytes)) bytes"
  times+=("$IMPORT_S")
  kv "databrain_run${r}_catalog_s" "$CATALOG_S"
  kv "databrain_run${r}_import_s" "$IMPORT_S"
done
kv databrain_import_runs_s "${times[*]}"
check_count cli
kv databrain_rows "$GEN_ROWS"
kv databrain_count_by "SELECT count(*) FROM obs after every run, databrain export --count after the last"
kv databrain_db_bytes "$db_bytes"
kv databrain_wal_bytes "$wal_bytes"
kv databrain_import_output "$(grep -v '^[[:space:]]*$' "$RES/import-$RUNS.log" | tail -1 | tr -d '\r')"

# Durability as configured: the journal mode in the file after the import, and the pragmas the store's
# source sets (synchronous is per connection, and a bulk load may switch the journal mode for its
# transaction).
kv databrain_journal_mode "$(sqlite3 -readonly "$DB" 'PRAGMA journal_mode')"
kv databrain_page_size "$(sqlite3 -readonly "$DB" 'PRAGMA page_size')"
for p in synchronous journal_mode; do
  v=$( (grep -rhoiE "PRAGMA +$p *= *[A-Za-z0-9]+" "$REPO/src/store" || true) | sed -E 's/.*= *//' | sort -u | paste -sd/ -)
  kv "databrain_source_$p" "${v:-not set}"
done

# Durability as done: one more import, untimed, under strace, listing the sync calls per file.
if [ "${FSYNC_CHECK:-1}" = 1 ]; then
  if command -v strace > /dev/null; then
    log "fsync check: one untimed import under strace"
    rm -f "$DB" "$DB-wal" "$DB-shm" "$DB-journal"
    { db init && db catalog import orgunits "$DATA/orgunits.csv" &&
      db catalog import indicators "$DATA/indicators.csv" --periodicity month; } > /dev/null 2>&1 ||
      die "catalog set-up for the fsync check failed"
    strace -f --seccomp-bpf -qq -y -e signal=none -e trace=fsync,fdatasync,sync_file_range,msync,syncfs \
      -o "$RES/fsync.strace" "$BIN" --store "$STORE" import "$DATA/obs.csv" > /dev/null 2>&1 ||
      die "import under strace failed"
    # "123 fdatasync(4</tmp/x/bench.db-journal>) = 0" -> "1 fdatasync bench.db-journal", summed per pair
    kv databrain_sync_calls "$( (grep -oE '[a-z_]+\([0-9]+<[^>]*>' "$RES/fsync.strace" || true) |
      sed -E 's#\([0-9]+<(.*/)?([^/>]*)># \2#' | sort | uniq -c | awk '{ print $1, $2, $3 }' | paste -sd, -)"
  else
    log "fsync check skipped: strace is not installed"
  fi
fi

# ---------------- 3. report ----------------
python3 "$HERE/import_report.py" "$PT" "$T" "$RES/import.md"
log "table written to $RES/import.md"

# ---------------- 4. queries in the cube ----------------
# Q1-Q7 in the engine, on the store the last import left, with the peers' query parameters of this scale.
CUBE_BENCH=${CUBE_BENCH:-$(dirname "$BIN")/cube_bench}
PQ=$PEERBENCH_DIR/results/scale-$SCALE
if [ "${SKIP_CUBE:-0}" = 1 ]; then
  log "SKIP_CUBE=1: queries in the cube skipped"
else
  [ -x "$CUBE_BENCH" ] || die "$CUBE_BENCH not found: build it with 'make' (or set CUBE_BENCH)"
  [ -f "$PQ/queries/params.env" ] || die "$PQ/queries/params.env not found (the peers' query parameters)"
  # shellcheck disable=SC1091
  . "$PQ/queries/params.env"
  rm -rf "$RES/cube-out"
  mkdir -p "$RES/cube-out"
  sync # the imports leave hundreds of MB to write back: let them land before timing the queries
  log "cube: building it from $DB and running Q1-Q7 ($RUNS timed runs each)"
  echo "load_cube=$(cut -d' ' -f1 /proc/loadavg)" > "$RES/cube.txt"
  "$CUBE_BENCH" "$STORE" "$RES/cube-out" "$IND_Q" "$OU_Q" "$Q5_LIST" "$Q6_N" "$RUNS" >> "$RES/cube.txt" ||
    die "cube_bench failed (output: $RES/cube.txt)"
  python3 "$HERE/cube_report.py" "$PT" "$RES/cube.txt" "$PQ/out/cref" "$RES/cube-out" "$RES/cube.md" ||
    die "the cube's answers differ from the C reference (see $RES/cube.md)"
  log "table written to $RES/cube.md"
fi

# ---------------- 5. HTTP ----------------
# Start-up, series route throughput (wrk, 64 keep-alive connections), Q1-Q5 over HTTP (one keep-alive
# connection each), HTTP ingest, server memory.
if [ "${SKIP_HTTP:-0}" = 1 ]; then
  log "SKIP_HTTP=1: HTTP figures skipped"
else
  command -v wrk > /dev/null || die "wrk is not installed (make bench installs it)"
  # shellcheck disable=SC1091
  . "$PQ/queries/params.env"
  log "HTTP: start-up, series route with wrk, ingest over HTTP"
  DATABRAIN_BIN=$BIN "$HERE/http.sh" "$DB" "$DATA" "$IND_Q" "$OU_Q" "$RES/http.md" "$Q5_LIST" ||
    die "the HTTP benchmark failed"
  log "table written to $RES/http.md"
fi

# ---------------- 6. forecasting ----------------
# databrain forecast eval against R's forecast::ets and forecast::thetaf on the M1 and R classic series.
if [ "${SKIP_FORECAST:-0}" = 1 ]; then
  log "SKIP_FORECAST=1: forecasting benchmark skipped"
else
  log "forecasting: databrain against R forecast::ets and thetaf"
  DATABRAIN_BIN=$BIN SHARED=$SHARED "$HERE/forecast.sh" || die "the forecasting benchmark failed"
fi

# ---------------- 7. alerts ----------------
# The latency from an accepted POST /api/v1/data to its alert on the Server-Sent Events stream.
if [ "${SKIP_ALERTS:-0}" = 1 ]; then
  log "SKIP_ALERTS=1: alert latency skipped"
else
  log "alerts: POST -> alert on the event stream"
  DATABRAIN_BIN=$BIN "$HERE/alerts.sh" "$RES/alerts.md" || die "the alert latency benchmark failed"
fi
