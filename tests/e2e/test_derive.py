"""Derived indicators end to end: a formula indicator imported through the CLI and the API (a bad formula
rejected with the indicator, the field and the column; a cycle refused), a good one evaluated by the server
on the cube and recomputed when its inputs change, `databrain formula check` and POST /api/v1/formula/check,
and the demo's ward development index (values in [0, 1], pillars that add up, a ranking that follows the
values)."""
import json

import pytest

from server import Server, make_store, run_cli

ORGUNITS = "code,name,parent\n79,Thành phố Hồ Chí Minh,\n26734,Phường Sài Gòn,79\n26737,Phường Tân Định,79\n" \
           "26740,Phường Bến Thành,79\n"
INDICATORS = "code,name,unit,aggregation\nRETAIL,Retail sales,billion VND,sum\nHOUSEHOLDS,Households,households,sum\n"
DATA = ("indicator,orgunit,period,value\n"
        "RETAIL,26734,2025-01,1200\nRETAIL,26737,2025-01,900\nRETAIL,26740,2025-01,300\n"
        "HOUSEHOLDS,26734,2025-01,4000\nHOUSEHOLDS,26737,2025-01,3000\nHOUSEHOLDS,26740,2025-01,1500\n")
DERIVED = "code,name,periodicity,agg_space,polarity,formula\n" \
          "RETAIL_PER_HH,Retail sales per household,month,avg,higher,1000 * RETAIL / HOUSEHOLDS\n"


@pytest.fixture
def city(db):
    db.ok("catalog", "import", "orgunits", db.write("orgunits.csv", ORGUNITS))
    db.ok("catalog", "import", "indicators", db.write("indicators.csv", INDICATORS), "--periodicity", "month")
    return db


def test_cli_import_checks_formulas(city):
    bad = DERIVED.replace("HOUSEHOLDS\n", "HOUSEHOLDZ\n")
    p = city.run("catalog", "import", "indicators", city.write("bad.csv", bad), check=3)
    assert "bad.csv: line 2, column 6, indicators[RETAIL_PER_HH].formula: column 17: unknown indicator " \
           "'HOUSEHOLDZ' (did you mean HOUSEHOLDS?)" in p.stderr
    assert "nothing was written" in p.stderr
    assert city.run("catalog", "show", "RETAIL_PER_HH").returncode == 4
    # the formula must read indicators of its own periodicity
    yearly = DERIVED.replace(",month,avg", ",year,avg")
    p = city.run("catalog", "import", "indicators", city.write("yearly.csv", yearly), check=3)
    assert "indicators[RETAIL_PER_HH].formula: column 1: the formula reads month indicators, not year" in p.stderr
    city.ok("catalog", "import", "indicators", city.write("good.csv", DERIVED))
    assert "1000 * RETAIL / HOUSEHOLDS" in city.ok("catalog", "show", "RETAIL_PER_HH")
    # a cycle through the stored formula is refused, naming the cycle (at the formula that closes it in
    # catalog order: the stored one, as HOUSEHOLDS comes first)
    cycle = [{"code": "HOUSEHOLDS", "name": "Households", "periodicity": "month", "formula": "RETAIL_PER_HH / 2"}]
    p = city.run("catalog", "import", "indicators", city.write("cycle.json", json.dumps(cycle)), check=3)
    assert "cycle.json: indicators[RETAIL_PER_HH].formula: dependency cycle RETAIL_PER_HH -> HOUSEHOLDS -> " \
           "RETAIL_PER_HH\n" in p.stderr
    # a new formula comes after the stored ones
    cycle = "code,name,periodicity,formula\nLOOP,Loop,month,RETAIL_PER_HH + LOOP2\nLOOP2,Loop 2,month,LOOP\n"
    p = city.run("catalog", "import", "indicators", city.write("cycle.csv", cycle), check=3)
    assert "cycle.csv: line 3, column 4, indicators[LOOP2].formula: dependency cycle LOOP2 -> LOOP -> LOOP2\n" in p.stderr


def test_formula_check_cli(city):
    out = city.ok("formula", "check", "100 * RETAIL / HOUSEHOLDS", "--periodicity", "month")
    assert out == "type: number\nperiodicity: month\ndependencies: HOUSEHOLDS, RETAIL\n"
    assert city.ok("formula", "check", "RETAIL > 2 and not isnull(HOUSEHOLDS)") == \
        "type: boolean\nperiodicity: month\ndependencies: HOUSEHOLDS, RETAIL\n"
    assert city.ok("formula", "check", "2 * 3") == "type: constant\nperiodicity: none\ndependencies:\n"
    p = city.run("formula", "check", "yoy(RETAIL) + RETAL", check=3)
    assert p.stdout == ""
    assert p.stderr == "column 15: unknown indicator 'RETAL' (did you mean RETAIL?)\n"
    p = city.run("formula", "check", "RETAIL", "--periodicity", "quarter", check=3)
    assert p.stderr == "column 1: the formula reads month indicators, not quarter\n"
    assert city.run("formula", "check", "RETAIL", "--periodicity", "fortnight").returncode == 2
    assert city.run("formula", "check").returncode == 2
    assert city.ok("formula", "check", "--help").startswith("usage: databrain [--store URL] formula check FORMULA")


def ranking(srv, headers, code, period, parent=None):
    path = "/api/v1/indices/%s/pillars?period=%s" % (code, period) + ("&parent=" + parent if parent else "")
    r = srv.get(path, headers=headers)
    assert r.status == 200, r
    return r.json()


def test_server_evaluates_and_recomputes(city):
    city.ok("import", city.write("data.csv", DATA))
    with Server(city.db) as srv:
        steward = {"Authorization": "Bearer " + srv.token("steward")}
        # the API refuses a bad formula with its column, and writes nothing
        bad = {"code": "RETAIL_PER_HH", "name": "Retail per household", "periodicity": "month",
               "formula": "1000 * RETAIL / HOUSEHOLDZ"}
        r = srv.post("/api/v1/indicators", [bad], headers=steward)
        assert r.status == 400
        assert r.problem()["errors"] == [{"path": "indicators[RETAIL_PER_HH].formula",
                                          "message": "column 17: unknown indicator 'HOUSEHOLDZ' (did you mean HOUSEHOLDS?)"}]
        r = srv.request("PUT", "/api/v1/indicators/RETAIL_PER_HH", body=dict(bad, formula="1000 * (RETAIL / 0"),
                        headers=steward)
        assert r.status == 400
        assert "column 19:" in r.problem()["errors"][0]["message"]
        assert srv.get("/api/v1/indicators/RETAIL_PER_HH", headers=steward).status == 404
        good = dict(bad, formula="1000 * RETAIL / HOUSEHOLDS", agg_space="avg", polarity="higher")
        assert srv.post("/api/v1/indicators", [good], headers=steward).status == 200
        # evaluated on the cube: the wards, and at the city the ratio of the totals
        got = ranking(srv, steward, "RETAIL_PER_HH", "2025-01", "79")
        assert got["pillars"] == [{"label": "1000 * RETAIL / HOUSEHOLDS", "weight": 1.0,
                                   "formula": "1000 * RETAIL / HOUSEHOLDS"}]
        assert [(u["orgunit"], u["rank"], u["value"]) for u in got["units"]] == \
            [("26734", 1, 300.0), ("26737", 1, 300.0), ("26740", 3, 200.0)]
        city_value = ranking(srv, steward, "RETAIL_PER_HH", "2025-01")["units"]
        assert [(u["orgunit"], u["rank"]) for u in city_value] == [("79", 1)]
        assert city_value[0]["value"] == pytest.approx(1000 * 2400 / 8500, rel=1e-12)
        # new data reaches the derived values of the next requests
        r = srv.post("/api/v1/data", [{"indicator": "RETAIL", "orgunit": "26740", "period": "2025-01", "value": 750}],
                     headers=steward)
        assert r.status == 201, r
        got = ranking(srv, steward, "RETAIL_PER_HH", "2025-01", "79")
        assert [(u["orgunit"], u["rank"], u["value"]) for u in got["units"]] == \
            [("26740", 1, 500.0), ("26734", 2, 300.0), ("26737", 2, 300.0)]
        # bad requests
        assert srv.get("/api/v1/indices/RETAIL_PER_HH/pillars", headers=steward).problem()["status"] == 400
        assert srv.get("/api/v1/indices/RETAIL_PER_HH/pillars?period=2025-Q1", headers=steward).status == 400
        assert srv.get("/api/v1/indices/RETAIL/pillars?period=2025-01", headers=steward).status == 400
        assert srv.get("/api/v1/indices/NOPE/pillars?period=2025-01", headers=steward).status == 404
        assert srv.get("/api/v1/indices/RETAIL_PER_HH/pillars?period=2025-01&parent=X", headers=steward).status == 404


def test_formula_check_route(city):
    with Server(city.db) as srv:
        analyst = {"Authorization": "Bearer " + srv.token("analyst")}
        r = srv.post("/api/v1/formula/check", {"formula": "100 * RETAIL / plan(RETAIL)", "periodicity": "month"},
                     headers=analyst)
        assert r.status == 200
        assert r.json() == {"type": "number", "periodicity": "month", "dependencies": ["RETAIL"], "errors": []}
        r = srv.post("/api/v1/formula/check", {"formula": "yoy(RETAIL) + RETAL"}, headers=analyst)
        assert r.status == 200
        assert r.json() == {"type": None, "periodicity": None, "dependencies": [], "errors": [
            {"column": 15, "message": "unknown indicator 'RETAL' (did you mean RETAIL?)"}]}
        r = srv.post("/api/v1/formula/check", {"formula": "RETAIL", "periodicity": "year"}, headers=analyst)
        assert r.json()["errors"] == [{"column": 1, "message": "the formula reads month indicators, not year"}]
        r = srv.post("/api/v1/formula/check", {"formula": "RETAIL +\n (", "periodicity": "month"}, headers=analyst)
        assert r.json()["errors"] == [{"line": 2, "column": 3, "message": "expected a value, found end of formula"}]
        # only a malformed body is a 400
        for body, where in (([1], "$"), ({"formula": 3}, "$.formula"), ({}, "$.formula"),
                            ({"formula": "1", "periodicity": "fortnight"}, "$.periodicity"),
                            ({"formula": "1", "extra": 1}, "$.extra")):
            r = srv.post("/api/v1/formula/check", body, headers=analyst)
            assert r.status == 400, body
            assert r.problem()["errors"][0]["path"] == where
        assert srv.post("/api/v1/formula/check", b"{", headers=dict(analyst, **{"Content-Type": "application/json"})).status == 400
        assert srv.post("/api/v1/formula/check", {"formula": "1"}).status == 401


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("derive_demo")), demo=True)
    with Server(store) as srv:
        yield srv, {"Authorization": "Bearer " + srv.token("analyst")}


def test_demo_ward_index(demo):
    srv, analyst = demo
    ind = srv.get("/api/v1/indicators/WARD_DEV_INDEX", headers=analyst).json()
    assert ind["synthetic"] == 1 and "goalpost(ADMIN_ONTIME_PCT, 80, 100)" in ind["formula"]
    for period in ("2025-07", "2025-10"):
        got = ranking(srv, analyst, "WARD_DEV_INDEX", period, "79")
        assert [(p["label"], p["weight"]) for p in got["pillars"]] == [
            ("goalpost(ADMIN_ONTIME_PCT, 80, 100)", 0.3), ("goalpost(ONLINE_DOSSIER_PCT, 0, 100)", 0.3),
            ("minmax(BUSINESS_REG / plan(BUSINESS_REG))", 0.2), ("minmax(WASTE_COLLECTED / plan(WASTE_COLLECTED))", 0.2)]
        units = got["units"]
        assert len(units) == 168  # the wards, communes and special zone (not the stations under the city)
        values = [u["value"] for u in units]
        assert all(v is not None and 0 <= v <= 1 for v in values)
        assert values == sorted(values, reverse=True)
        for u in units:
            assert u["rank"] == 1 + sum(v > u["value"] for v in values)
            assert sum(u["contributions"]) == pytest.approx(u["value"], abs=1e-12)
            for c, p in zip(u["contributions"], got["pillars"]):
                assert 0 <= c <= p["weight"] + 1e-12
        # a min-max pillar reaches 0 and its full weight across the units
        for j in (2, 3):
            assert min(u["contributions"][j] for u in units) == 0
            assert max(u["contributions"][j] for u in units) == pytest.approx(0.2, abs=1e-12)
    # before the merger the units of 2025 did not exist, and no ward plans exist for 2024
    assert ranking(srv, analyst, "WARD_DEV_INDEX", "2024-09", "79")["units"] == []
