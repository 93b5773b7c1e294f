#!/usr/bin/env bash
# http.sh STORE DATA_DIR IND OU OUT.md [Q5_LIST] - the HTTP figures of `make bench` (called by run.sh after
# the import benchmark, on the store it left):
#   1. start-up: wall time from exec of `databrain serve` on the 20 M-observation store to the first 200
#      of the series route (the server builds its in-memory cube before it listens: the time includes it);
#   2. series route throughput and latency with wrk (Debian): 2 threads, 64 keep-alive connections,
#      DURATION seconds, an analyst token; requests/s, p50, p99;
#   2b. the peer queries Q1-Q5 of BENCHMARKS.md over HTTP, answered from the cube by the analytics routes:
#      each answer is checked once (status and size), then timed by wrk on ONE keep-alive connection
#      (1 thread) for QDURATION seconds; the figure is wrk's median (its C client adds no interpreter
#      overhead). Q1 series (IND at OU, all months), Q2 cross-section (IND, children of 79, 2025-12), Q3
#      roll-up (IND, city total per month), Q4 top 10 year-on-year growth in 2025-12 (/api/v1/rank), Q5
#      dashboard (the Q5_LIST indicators, city totals, 2024-01 .. 2025-12; default: IND alone);
#   3. HTTP ingest: a fresh store with the city's catalog receives the first INGEST_ROWS rows of obs.csv
#      as CSV bodies of 1,000,000 rows (the per-batch limit), timed with curl; rows/s;
#   4. the server's resident memory after the runs.
# Environment: DATABRAIN_BIN (default build/databrain), DURATION (default 10), QDURATION (default 5),
#   INGEST_ROWS (default 2000000), PORT (default 18181).
set -euo pipefail
STORE=$1 DATA=$2 IND=$3 OU=$4 OUT=$5 Q5_LIST=${6:-$3}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${DATABRAIN_BIN:-$HERE/../build/databrain}
DURATION=${DURATION:-10}
QDURATION=${QDURATION:-5}
INGEST_ROWS=${INGEST_ROWS:-2000000}
PORT=${PORT:-18181}
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '[%(%H:%M:%S)T] http: %s\n' -1 "$*" >&2; }
now() { echo "$EPOCHREALTIME"; }

# serve STORE URL TOKEN: starts the server in the background, sets SERVER, and sets STARTED to the seconds
# from exec to the first 200 of URL (called directly, not in $(...), so that SERVER reaches the caller).
serve() {
  local store=$1 url=$2 token=$3 start
  start=$(now)
  # the load generator is one client: lift the per-token rate limit above what it can send
  "$BIN" --store "sqlite:$store" serve --listen "127.0.0.1:$PORT" --rate-per-token 1000000 \
    > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 3000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url" || true)" = 200 ]; then
      STARTED=$(python3 -c "print('%.3f' % ($(now) - $start))")
      return 0
    fi
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.err" >&2; return 1; }
    sleep 0.01
  done
  return 1
}

stop_server() { kill "$SERVER"; wait "$SERVER" || true; SERVER=; }

TOKEN=$("$BIN" --store "sqlite:$STORE" token create --role analyst --label bench)
SERIES="http://127.0.0.1:$PORT/api/v1/series/$IND/$OU"
log "start-up on $STORE"
serve "$STORE" "$SERIES" "$TOKEN"
STARTUP=$STARTED
curl -sf -H "Authorization: Bearer $TOKEN" "$SERIES" > "$WORK/series.json"
python3 - "$WORK/series.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert len(doc["observations"]) > 0, "the series route answered no observations"
EOF
log "wrk: 64 connections, $DURATION s on $SERIES"
wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$SERIES" > "$WORK/wrk.txt"

# Q1-Q5: the URL of each query and the size of its answer (rows, or ranked units for Q4), checked once,
# then wrk on one keep-alive connection.
BASE="http://127.0.0.1:$PORT/api/v1"
N5=$(echo "$Q5_LIST" | tr ',' '\n' | wc -l)
QUERIES=(
  "Q1|$BASE/analytics?indicator=$IND&orgunit=$OU|120"
  "Q2|$BASE/analytics?indicator=$IND&children_of=79&from=2025-12&to=2025-12|168"
  "Q3|$BASE/analytics?indicator=$IND&orgunit=79|120"
  "Q4|$BASE/rank?indicator=$IND&period=2025-12&children_of=79&transform=yoy_pct&limit=10|10"
  "Q5|$BASE/analytics?indicator=$Q5_LIST&orgunit=79&from=2024-01&to=2025-12|$((N5 * 24))"
)
for q in "${QUERIES[@]}"; do
  IFS='|' read -r name url want <<< "$q"
  curl -sf -H "Authorization: Bearer $TOKEN" "$url" > "$WORK/$name.json" || { echo "$name: $url failed" >&2; exit 1; }
  python3 - "$WORK/$name.json" "$want" "$name" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
got = len(doc["units"] if "units" in doc else doc["rows"])
assert got == int(sys.argv[2]), "%s answered %d rows, expected %s" % (sys.argv[3], got, sys.argv[2])
EOF
  log "wrk: $name on one connection, $QDURATION s"
  wrk -t1 -c1 -d"${QDURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$url" > "$WORK/$name.txt"
  echo "$url" > "$WORK/$name.url"
done
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
stop_server

log "HTTP ingest of $INGEST_ROWS rows into a fresh store"
FRESH=$WORK/ingest.db
"$BIN" --store "sqlite:$FRESH" -q init
"$BIN" --store "sqlite:$FRESH" -q catalog import orgunits "$DATA/orgunits.csv"
"$BIN" --store "sqlite:$FRESH" -q catalog import indicators "$DATA/indicators.csv" --periodicity month
WTOKEN=$("$BIN" --store "sqlite:$FRESH" token create --role steward --label bench)
head -n $((INGEST_ROWS + 1)) "$DATA/obs.csv" | tail -n +2 | split -l 1000000 - "$WORK/part."
serve "$FRESH" "http://127.0.0.1:$PORT/readyz" "$WTOKEN"
start=$(now)
for part in "$WORK"/part.*; do
  { echo "indicator,orgunit,period,value"; cat "$part"; } > "$part.csv"
  code=$(curl -s -o "$WORK/post.json" -w '%{http_code}' -H "Authorization: Bearer $WTOKEN" \
    -H 'Content-Type: text/csv' --data-binary "@$part.csv" "http://127.0.0.1:$PORT/api/v1/data")
  [ "$code" = 201 ] || { echo "POST /api/v1/data answered $code: $(head -c 500 "$WORK/post.json")" >&2; exit 1; }
done
INGEST_S=$(python3 -c "print('%.3f' % ($(now) - $start))")
stop_server

python3 - "$WORK/wrk.txt" "$STARTUP" "$RSS_KB" "$INGEST_ROWS" "$INGEST_S" "$OUT" "$WORK" <<'EOF'
import os, re, sys
wrk, startup, rss_kb, rows, ingest_s, out, work = sys.argv[1:]
text = open(wrk).read()
def latency(p, text=text):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
p50, p99 = latency(50), latency(99)
queries = []
for name, what in [("Q1", "series"), ("Q2", "cross-section"), ("Q3", "roll-up, city total per month"),
                   ("Q4", "top 10 year-on-year growth"), ("Q5", "dashboard, city totals over 24 months")]:
    q = open(os.path.join(work, name + ".txt")).read()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", q)
    n = float(re.search(r"Requests/sec:\s+([\d.]+)", q).group(1))
    url = open(os.path.join(work, name + ".url")).read().strip().split("/api/v1", 1)[1]
    queries.append("| %s %s over HTTP, one keep-alive connection: `%s` | %.0f µs median (p99 %.0f µs, %.0f "
                   "requests/s%s) | median < 300 µs |"
                   % (name, what, url, latency(50, q) * 1000, latency(99, q) * 1000, n,
                      ", %s non-2xx" % bad.group(1) if bad else ""))
rows_s = int(rows) / float(ingest_s)
lines = [
    "# HTTP figures",
    "",
    "| what | measured | target (BENCHMARKS.md) |",
    "|---|---:|---|",
    "| start-up: exec to the first 200 of the series route | %.2f s | within 3 s |" % float(startup),
    "| series route, 64 keep-alive connections, 2 wrk threads | %.0f requests/s | >= 50,000 |" % rps,
    "| series route latency p50 / p99 | %.3f ms / %.3f ms | p99 < 5 ms |" % (p50, p99),
] + queries + [
    "| HTTP ingest (CSV bodies of 1 M rows, validated, durable) | %.0f rows/s | |" % rows_s,
    "| server resident memory after the runs | %.0f MB | <= 1.5 x dense data |" % (int(rss_kb) / 1024),
    "",
    "Non-2xx answers during wrk: %s." % (errors.group(1) if errors else "none"),
    "",
    "```", text.strip(), "```",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:16]))
EOF
