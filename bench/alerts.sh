#!/usr/bin/env bash
# alerts.sh [OUT.md] - the alert latency of `make bench` (called by run.sh, step 7; runs alone too): from an
# accepted POST /api/v1/data to the alert on the Server-Sent Events stream.
#
# A fresh store with the synthetic demo city; `databrain serve`; one rule (PM25 > 50 at the station AQ01,
# for 1 period: every high value fires at once). A client keeps GET /api/v1/events?kind=alert.firing open
# and, ROUNDS times, posts one hour of AQ01 at 120 µg/m³ (the alert fires) then the next hour at 10 (it
# resolves), one POST at a time on a keep-alive connection. The latency of a round is the time from its
# POST being accepted (the data batch committed: the alert event carries the batch's commit time,
# batch_ms) to the arrival of its alert.firing event on the stream (identified by its period), on the
# machine's one wall clock, to the millisecond. Beside it: from the POST leaving the client (which adds the
# batch's own durable commit), the POST's round trip, and the arrival of the alert relative to the POST's
# answer (the alert commits before the answer is sent). Percentiles are over the
# ROUNDS rounds after WARMUP unmeasured ones. Target (BENCHMARKS.md, issue 7): p99 under 10 ms.
# Environment: DATABRAIN_BIN (default build/databrain), ROUNDS (default 1000), WARMUP (default 50),
#   PORT (default 18282).
set -euo pipefail
OUT=${1:-/tmp/databrain-bench/results/alerts.md}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${DATABRAIN_BIN:-$HERE/../build/databrain}
ROUNDS=${ROUNDS:-1000}
WARMUP=${WARMUP:-50}
PORT=${PORT:-18282}
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '[%(%H:%M:%S)T] alerts: %s\n' -1 "$*" >&2; }

mkdir -p "$(dirname "$OUT")"
"$BIN" --store "sqlite:$WORK/a.db" init > /dev/null
"$BIN" --store "sqlite:$WORK/a.db" -q demo > /dev/null
TOKEN=$("$BIN" --store "sqlite:$WORK/a.db" token create --role admin)
"$BIN" --store "sqlite:$WORK/a.db" serve --listen "127.0.0.1:$PORT" --rate-per-token 1000000 \
  > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
for _ in $(seq 100); do grep -q '^listening on' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' "$WORK/serve.out" || { cat "$WORK/serve.err" >&2; exit 1; }
log "server up; $ROUNDS rounds (+$WARMUP warm-up) of POST -> alert on the event stream"

PORT=$PORT TOKEN=$TOKEN ROUNDS=$ROUNDS WARMUP=$WARMUP OUT=$OUT python3 - <<'PY'
import datetime, http.client, json, os, threading, time

port, token = int(os.environ["PORT"]), os.environ["TOKEN"]
rounds, warmup, out = int(os.environ["ROUNDS"]), int(os.environ["WARMUP"]), os.environ["OUT"]
auth = {"Authorization": "Bearer " + token}

c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("POST", "/api/v1/rules", json.dumps({"code": "BENCH_PM25", "condition": "PM25 > 50", "for": 1,
                                               "keep_firing_for": 0, "units": ["AQ01"]}),
          dict(auth, **{"Content-Type": "application/json"}))
r = c.getresponse(); r.read()
assert r.status in (200, 201), r.status

arrived, accepted, ready, done = {}, {}, threading.Event(), threading.Event()
def listen():
    s = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    s.request("GET", "/api/v1/events?kind=alert.firing&heartbeat=300", headers=dict(auth, Accept="text/event-stream"))
    resp = s.getresponse()
    assert resp.status == 200
    ready.set()
    while not done.is_set():
        line = resp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            t, wall = time.perf_counter(), time.time() * 1000
            doc = json.loads(line[6:])
            arrived[doc["data"]["period"]] = t
            accepted[doc["data"]["period"]] = wall - doc["data"]["batch_ms"]
threading.Thread(target=listen, daemon=True).start()
ready.wait(10)
time.sleep(0.2)

start = datetime.datetime(2031, 1, 1)
lat, rtt, rel, acc = [], [], [], []
for k in range(warmup + rounds):
    hour = start + datetime.timedelta(hours=2 * k)
    period = hour.strftime("%Y-%m-%dT%H:00")
    nxt = (hour + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:00")
    body = "indicator,orgunit,period,value\nPM25,AQ01,%s,120\n" % period
    t0 = time.perf_counter()
    c.request("POST", "/api/v1/data", body, dict(auth, **{"Content-Type": "text/csv"}))
    r = c.getresponse(); r.read()
    t1 = time.perf_counter()
    assert r.status == 201, r.status
    deadline = time.perf_counter() + 5
    while period not in arrived and time.perf_counter() < deadline:
        time.sleep(0.0001)
    assert period in arrived, "no alert for " + period
    if k >= warmup:
        lat.append((arrived[period] - t0) * 1000)
        rtt.append((t1 - t0) * 1000)
        rel.append((arrived[period] - t1) * 1000)
        acc.append(accepted[period])
    c.request("POST", "/api/v1/data", "indicator,orgunit,period,value\nPM25,AQ01,%s,10\n" % nxt,
              dict(auth, **{"Content-Type": "text/csv"}))
    r = c.getresponse(); r.read()
done.set()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

rows = [("POST accepted (its batch committed) -> alert.firing on the SSE stream", acc),
        ("POST sent -> alert.firing on the SSE stream", lat), ("POST round trip (201 received)", rtt),
        ("alert.firing arrival minus 201 arrival (negative: before the answer)", rel)]
text = ["# Alert latency (bench/alerts.sh)", "",
        "%d rounds after %d warm-up; one rule, one station, one SSE client; load %s" %
        (rounds, warmup, open("/proc/loadavg").read().split()[0]), "",
        "| measure | p50 ms | p90 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
for name, xs in rows:
    text.append("| %s | %.2f | %.2f | %.2f | %.2f |" % (name, pct(xs, 50), pct(xs, 90), pct(xs, 99), max(xs)))
p99 = pct(acc, 99)
text += ["", "target p99 < 10 ms: %s (p99 %.2f ms)" % ("met" if p99 < 10 else "NOT met", p99)]
open(out, "w").write("\n".join(text) + "\n")
print("\n".join(text))
PY
log "table written to $OUT"
