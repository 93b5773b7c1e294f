"""Nothing acknowledged is lost: the server is killed with SIGKILL in the middle of a stream of
acknowledged batches and restarted; every acknowledged row is there, the batch in flight is either whole
or absent, and retried batches (same Idempotency-Key) are not applied twice."""
import csv
import io
import threading
import time

from server import Server, make_store, run_cli

INDICATOR = "WASTE_COLLECTED"


def wards(store):
    units = csv.DictReader(io.StringIO(run_cli(store, "catalog", "list", "orgunits").stdout))
    return sorted(u["code"] for u in units if u["parent"] == "79" and u["kind"] in ("ward", "commune")
                  and u["valid_from"] == "2025-07-01")


def batch(units, first_year, years):
    """One batch: every unit × every month of `years` years from first_year, as CSV."""
    lines = ["indicator,orgunit,period,value"]
    for y in range(first_year, first_year + years):
        for m in range(1, 13):
            lines += ["%s,%s,%04d-%02d,%d" % (INDICATOR, u, y, m, y * 100 + m) for u in units]
    return "\n".join(lines) + "\n"


def stored(store):
    """(orgunit, period) -> value of the indicator from 2030 on (the years this test writes; the demo has
    earlier ones), read with the command line from the store file."""
    out = run_cli(store, "export", "--indicator", INDICATOR, "--from", "2030-01").stdout
    return {(r["orgunit"], r["period"]): float(r["value"]) for r in csv.DictReader(io.StringIO(out))}


def test_sigkill_loses_nothing_acknowledged(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    units = wards(store)
    srv = Server(store)
    auth = {"Authorization": "Bearer " + srv.token("steward"), "Content-Type": "text/csv"}
    acknowledged = {}  # idempotency key -> (first year, years)
    in_flight = {}
    stop = threading.Event()

    def feed():
        year = 2030
        for k in range(1000):
            if stop.is_set():
                return
            key, years = "batch-%d" % k, 1 if k % 5 else 20  # every fifth batch is large (the one likely in flight)
            in_flight[key] = (year, years)
            try:
                r = srv.request("POST", "/api/v1/data", body=batch(units, year, years), headers=dict(auth, **{"Idempotency-Key": key}))
            except OSError:
                return
            if r.status == 201:
                acknowledged[key] = in_flight.pop(key)
            year += years

    t = threading.Thread(target=feed)
    t.start()
    deadline = time.time() + 60
    while len(acknowledged) < 12 and time.time() < deadline:
        time.sleep(0.01)
    srv.kill()
    stop.set()
    t.join()
    assert len(acknowledged) >= 12

    data = stored(store)
    for key, (year, years) in acknowledged.items():
        for y in range(year, year + years):
            for u in units:
                assert data[(u, "%04d-12" % y)] == y * 100 + 12, (key, u, y)
    expected = sum(len(units) * 12 * years for _, years in acknowledged.values())
    for key, (year, years) in in_flight.items():  # the batch killed in flight: whole or absent
        present = sum((u, "%04d-%02d" % (y, m)) in data for y in range(year, year + years) for m in range(1, 13) for u in units)
        assert present in (0, len(units) * 12 * years), key
        expected += present
    assert len(data) == expected

    with Server(store) as again:
        for key, (year, years) in list(in_flight.items()) + list(acknowledged.items())[:3]:
            r = again.request("POST", "/api/v1/data", body=batch(units, year, years), headers=dict(auth, **{"Idempotency-Key": key}))
            assert r.status == 201, r
            if key in acknowledged:
                assert r.header("Idempotent-Replayed") == "true"
                assert r.json()["inserted"] == len(units) * 12 * years
        total = sum(len(units) * 12 * years for _, years in list(acknowledged.values()) + list(in_flight.values()))
    assert len(stored(store)) == total
