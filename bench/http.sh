#!/usr/bin/env bash
# http.sh STORE DATA_DIR IND OU OUT.md - the HTTP figures of `make bench` (called by run.sh after the
# import benchmark, on the store it left):
#   1. start-up: wall time from exec of `databrain serve` on the 20 M-observation store to the first 200
#      of the series route;
#   2. series route throughput and latency with wrk (Debian): 2 threads, 64 keep-alive connections,
#      DURATION seconds, an analyst token; requests/s, p50, p99;
#   3. HTTP ingest: a fresh store with the city's catalog receives the first INGEST_ROWS rows of obs.csv
#      as CSV bodies of 1,000,000 rows (the per-batch limit), timed with curl; rows/s;
#   4. the server's resident memory after the runs.
# Environment: DATABRAIN_BIN (default build/databrain), DURATION (default 10), INGEST_ROWS (default 2000000),
#   PORT (default 18181).
set -euo pipefail
STORE=$1 DATA=$2 IND=$3 OU=$4 OUT=$5
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${DATABRAIN_BIN:-$HERE/../build/databrain}
DURATION=${DURATION:-10}
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

python3 - "$WORK/wrk.txt" "$STARTUP" "$RSS_KB" "$INGEST_ROWS" "$INGEST_S" "$OUT" <<'EOF'
import re, sys
wrk, startup, rss_kb, rows, ingest_s, out = sys.argv[1:]
text = open(wrk).read()
def latency(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
p50, p99 = latency(50), latency(99)
rows_s = int(rows) / float(ingest_s)
lines = [
    "# HTTP figures",
    "",
    "| what | measured | target (BENCHMARKS.md) |",
    "|---|---:|---|",
    "| start-up: exec to the first 200 of the series route | %.2f s | within 3 s |" % float(startup),
    "| series route, 64 keep-alive connections, 2 wrk threads | %.0f requests/s | >= 50,000 |" % rps,
    "| series route latency p50 / p99 | %.3f ms / %.3f ms | p99 < 5 ms |" % (p50, p99),
    "| HTTP ingest (CSV bodies of 1 M rows, validated, durable) | %.0f rows/s | |" % rows_s,
    "| server resident memory after the runs | %.0f MB | <= 1.5 x dense data |" % (int(rss_kb) / 1024),
    "",
    "Non-2xx answers during wrk: %s." % (errors.group(1) if errors else "none"),
    "",
    "```", text.strip(), "```",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:11]))
EOF
