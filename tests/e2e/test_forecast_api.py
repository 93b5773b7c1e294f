"""Forecasts of the store's series as users meet them, on the synthetic demo city: `databrain forecast run`
and `forecast show`, the forecast route (stored and on demand, the plan outlook, clear 404s and 400s),
a batch run through the API followed to completion, an outlier that is flagged as an anomaly (event and
record), the refit that moves the origin after new data, and the formula functions in a derived
indicator read through the analytics grid."""
import re
import sqlite3
import time

import pytest

from server import Server, make_store, run_cli

SUMMARY = re.compile(r"^series=(\d+) forecast=(\d+) skipped=(\d+) smape=([0-9.]+|nan) mase=([0-9.]+|nan) "
                     r"coverage95=([0-9.]+|nan) seconds=([0-9.]+)$")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("forecast")), demo=True)
    out = run_cli(store, "forecast", "run", "--indicator", "EXPORTS,RETAIL_SALES,WASTE_COLLECTED,POPULATION",
                  "--unit", "VN,90001,90002", "--threads", "2").stdout
    with Server(store) as srv:
        admin = {"Authorization": "Bearer " + srv.token("admin")}
        yield store, srv, admin, out


def wait_for(check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_cli_run_and_show(city):
    store, _, _, out = city
    m = SUMMARY.match(out.strip())
    assert m, out
    series, fitted, skipped = int(m.group(1)), int(m.group(2)), int(m.group(3))
    # EXPORTS and RETAIL_SALES at VN, WASTE_COLLECTED at two wards (their history rebased through the merger),
    # POPULATION at the two wards (one value each: too short)
    assert (series, fitted, skipped) == (6, 4, 2)
    shown = run_cli(store, "forecast", "show", "EXPORTS", "VN").stdout.splitlines()
    assert shown[0].startswith("EXPORTS/VN  model: ") and "origin: 2025-10" in shown[0]
    assert shown[1].split() == ["period", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert shown[2].split()[0] == "2025-11" and shown[13].split()[0] == "2026-10"
    assert shown[14] == "back-test, 12 steps ahead from 3 origins:"
    assert sum(1 for line in shown if line.startswith("*")) == 1
    missing = run_cli(store, "forecast", "show", "EXPORTS", "90001", check=False)
    assert missing.returncode == 4 and "no forecast of EXPORTS/90001" in missing.stderr


def test_stored_forecast(city):
    _, srv, _, _ = city
    r = srv.get("/api/v1/forecast/EXPORTS/VN")
    assert r.status == 200, r
    f = r.json()
    assert f["stored"] is True and f["indicator"] == "EXPORTS" and f["orgunit"] == "VN"
    assert f["periodicity"] == "month" and f["origin"] == "2025-10" and f["h"] == 12
    assert [v["period"] for v in f["values"]][:3] == ["2025-11", "2025-12", "2026-01"]
    for v in f["values"]:
        assert v["lo99"] <= v["lo95"] <= v["lo80"] <= v["mean"] <= v["hi80"] <= v["hi95"] <= v["hi99"]
    methods = [a["method"] for a in f["accuracy"]]
    assert methods == ["combo", "naive", "snaive", "ses", "theta", "damped"]
    assert f["method"] in methods and f["backtest"] == {"horizon": 12, "origins": 3}
    kept = next(a for a in f["accuracy"] if a["method"] == f["method"])
    assert kept["mase"] == min(a["mase"] for a in f["accuracy"])
    assert kept["points"] == 36
    # the year's plan: 10 months observed + November and December forecast
    t = f["targets"]
    assert [x["year"] for x in t] == [2025] and t[0]["plan"] == 434207.8
    expected = sum(f["year_to_date"]["values"]) + f["values"][0]["mean"] + f["values"][1]["mean"]
    assert abs(t[0]["expected"] - expected) < 1e-6 * expected
    assert 0 <= t[0]["p_miss"] <= 1 and t[0]["sd"] > 0
    short = srv.get("/api/v1/forecast/EXPORTS/VN?h=3").json()
    assert len(short["values"]) == 3 and short["h"] == 3 and short["stored"] is True


def test_on_demand_and_refusals(city):
    _, srv, admin, _ = city
    r = srv.get("/api/v1/forecast/CPI_YOY/VN?h=24")
    assert r.status == 200 and r.json()["stored"] is False and len(r.json()["values"]) == 24
    # a unit without series of its own reads its children's roll-up
    r = srv.get("/api/v1/forecast/WASTE_COLLECTED/79", headers=admin)
    assert r.status == 200 and r.json()["stored"] is False
    # an indicator that is not public is unknown to the public
    assert srv.get("/api/v1/forecast/WASTE_COLLECTED/79").problem()["status"] == 404
    p = srv.get("/api/v1/forecast/NOPE/VN").problem()
    assert p["status"] == 404 and p["errors"][0] == {"path": "indicator", "message": "unknown indicator 'NOPE'"}
    p = srv.get("/api/v1/forecast/EXPORTS/NOWHERE").problem()
    assert p["status"] == 404 and p["errors"][0]["message"] == "unknown org unit 'NOWHERE'"
    p = srv.get("/api/v1/forecast/POPULATION/90001", headers=admin).problem()
    assert p["status"] == 404
    assert p["errors"][0]["message"] == ("series POPULATION at 90001 cannot be forecast: 1 observed values: "
                                         "a forecast needs at least 8")
    p = srv.get("/api/v1/forecast/EXPORTS/90001").problem()
    assert p["status"] == 404 and p["errors"][0]["message"] == "series EXPORTS at 90001 has no data"
    for bad in ("0", "x", "1001"):
        p = srv.get("/api/v1/forecast/EXPORTS/VN?h=" + bad).problem()
        assert p["status"] == 400 and p["errors"][0]["path"] == "h"


def test_run_job_to_completion(city):
    _, srv, admin, _ = city
    r = srv.post("/api/v1/forecast/run", {"indicators": ["CPI_YOY", "IIP_YOY"]}, headers=admin)
    assert r.status == 202, r
    job = r.json()["job"]
    assert r.header("Location") == "/api/v1/forecast/jobs/%d" % job
    done = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(
        srv.get("/api/v1/forecast/jobs/%d" % job, headers=admin).json()))
    assert done["kind"] == "run" and done["progress"] == {"done": 2, "total": 2}
    assert done["forecast"] == 2 and done["skipped"] == 0 and done["errors"] == []
    assert done["started"] and done["finished"] >= done["started"]
    assert srv.get("/api/v1/forecast/IIP_YOY/VN").json()["stored"] is True
    bad = srv.post("/api/v1/forecast/run", {"indicators": ["CPI_YOY", "NOPE"], "units": "VN", "x": 1},
                   headers=admin).problem()
    assert bad["status"] == 400
    assert sorted((e["path"], e["message"]) for e in bad["errors"]) == [
        ("$.indicators[1]", "unknown indicator 'NOPE'"), ("$.units", "must be an array of codes"),
        ("$.x", "unknown field (indicators, units)")]
    assert srv.get("/api/v1/forecast/jobs/999", headers=admin).problem()["status"] == 404


def test_anomaly_then_refit(city):
    store, srv, admin, _ = city
    f = srv.get("/api/v1/forecast/RETAIL_SALES/VN").json()
    first = f["values"][0]
    outlier = first["hi99"] * 3
    r = srv.post("/api/v1/data", [{"indicator": "RETAIL_SALES", "orgunit": "VN", "period": first["period"],
                                   "value": outlier}], headers=admin)
    assert r.status == 201, r

    def events():
        with sqlite3.connect(store) as db:
            return db.execute("SELECT body FROM v_event WHERE kind = 'forecast.anomaly'").fetchall()
    got = wait_for(events)
    assert len(got) == 1 and '"period":"%s"' % first["period"] in got[0][0]
    # the refit a second later moves the origin to the new period and keeps the flag
    refit = wait_for(lambda: (lambda x: x if x["origin"] == first["period"] else None)(
        srv.get("/api/v1/forecast/RETAIL_SALES/VN").json()))
    assert [a["period"] for a in refit["anomalies"]] == [first["period"]]
    assert refit["anomalies"][0]["value"] == outlier and refit["anomalies"][0]["hi99"] == first["hi99"]
    # a value inside the new forecast's 99% interval is no anomaly
    nxt = refit["values"][0]
    r = srv.post("/api/v1/data", [{"indicator": "RETAIL_SALES", "orgunit": "VN", "period": nxt["period"],
                                   "value": nxt["mean"]}], headers=admin)
    assert r.status == 201
    wait_for(lambda: srv.get("/api/v1/forecast/RETAIL_SALES/VN").json()["origin"] == nxt["period"])
    assert len(events()) == 1


def test_formula_functions(city):
    _, srv, admin, _ = city
    f = srv.get("/api/v1/forecast/EXPORTS/VN").json()
    steward = {"Authorization": "Bearer " + srv.token("steward")}
    derived = [{"code": "EXPORTS_NEXT", "name": "Exports next month", "periodicity": "month", "agg_space": "sum",
                "formula": "forecast(EXPORTS, 1)"},
               {"code": "EXPORTS_RISK", "name": "Risk of missing the export plan", "periodicity": "month",
                "agg_space": "none", "formula": "100 * p_miss_target(EXPORTS)"},
               {"code": "EXPORTS_BAND", "name": "Exports 95% band", "periodicity": "month", "agg_space": "none",
                "formula": "upper(EXPORTS, 2) - lower(EXPORTS, 2)"}]
    r = srv.post("/api/v1/indicators", derived, headers=steward)
    assert r.status == 200, r
    grid = srv.get("/api/v1/analytics?indicator=EXPORTS_NEXT,EXPORTS_RISK,EXPORTS_BAND&orgunit=VN"
                   "&from=2025-10&to=2025-10&transforms=value", headers=admin)
    assert grid.status == 200, grid
    rows = {row["indicator"]: row["value"] for row in grid.json()["rows"]}
    assert abs(rows["EXPORTS_NEXT"] - f["values"][0]["mean"]) < 1e-9 * abs(f["values"][0]["mean"])
    assert abs(rows["EXPORTS_RISK"] - 100 * f["targets"][0]["p_miss"]) < 1e-9
    band = f["values"][1]["hi95"] - f["values"][1]["lo95"]
    assert abs(rows["EXPORTS_BAND"] - band) < 1e-9 * band
