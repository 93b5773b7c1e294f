"""The analytics routes through the real server: GET /api/v1/analytics (indicators x units x periods with
report transforms) and GET /api/v1/rank.

On the real Ho Chi Minh City pack (skipped when ../shared/data is absent), the answers are checked against
the pack's own files, read here independently: CPI year on year for each month of 2024 equals the GSO
figure, and the city's FDI year to date in 2024 (the GSO publishes it cumulated from January; here it is
summed again from the monthly figures) against the same months of 2023.

On the synthetic demo city, every transform is checked exactly against what `databrain query` answers
from the store, computed again here; then paging, CSV, the limits (413), bad requests, who sees what, and
a cube that follows the data and catalog written through the API."""
import csv
import io
import os
from urllib.parse import quote

import pytest

from server import Server, make_store, run_cli

# ---------------------------------------------------------------- helpers


def bearer(token):
    return {"Authorization": "Bearer " + token}


def grid(srv, headers=None, **params):
    """GET /api/v1/analytics with params; asserts 200 and returns the JSON document."""
    query = "&".join("%s=%s" % (k, quote(str(v), safe=",")) for k, v in params.items())
    r = srv.get("/api/v1/analytics?" + query, headers=headers)
    assert r.status == 200, r
    return r.json()


def by_period(doc, unit=None):
    return {row["period"]: row for row in doc["rows"] if unit is None or row["orgunit"] == unit}


def cli_rows(store, *args):
    """The CSV a `databrain` command prints, as dicts."""
    return list(csv.DictReader(io.StringIO(run_cli(store, *args).stdout)))


def pct(a, b):
    """100 * (a - b) / b as the server computes it (None when missing or against 0)."""
    if a is None or b is None or b == 0:
        return None
    return 100.0 * (a - b) / b


def problem(r, status):
    assert r.status == status, r
    return r.problem()


# ---------------------------------------------------------------- the real pack


@pytest.fixture(scope="module")
def pack_server(tmp_path_factory):
    shared = os.environ.get("DB_SHARED_DIR") or os.path.join(os.path.dirname(__file__), "../../../shared")
    data = os.path.join(shared, "data")
    if not os.path.isdir(data):
        pytest.skip("the shared data pack is not beside the repository")
    store = make_store(str(tmp_path_factory.mktemp("pack")))
    run_cli(store, "demo", "--pack", data)
    with Server(store) as srv:
        srv.data = data
        yield srv


def gso_rows(data, name, group_col, group):
    with open(os.path.join(data, "macro/gso_monthly_national", name), encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r[group_col] == group]


def test_cpi_year_on_year_2024_equals_gso(pack_server):
    want = {r["Date"][:7]: float(r["YOY"]) for r in gso_rows(pack_server.data, "cpi.csv", "Hàng hóa",
                                                                "CHỈ SỐ GIÁ TIÊU DÙNG") if r["Date"].startswith("2024")}
    assert sorted(want) == ["2024-%02d" % m for m in range(1, 13)]
    doc = grid(pack_server, indicator="CPI_YOY", orgunit="VN", **{"from": "2024-01", "to": "2024-12"})
    got = {row["period"]: row["value"] for row in doc["rows"]}
    assert got == want  # exactly the GSO figure, for each month
    assert all(row["count"] == 1 and row["expected"] == 1 for row in doc["rows"])


def test_hcmc_fdi_ytd_2024_against_2023(pack_server):
    rows = {r["Month"]: r for r in gso_rows(pack_server.data, "fdi.csv", "Phân Loại", "TP. Hồ Chí Minh")
            if r["Trong Nước"] == "Trong Nước"}
    # 2024 year to date summed here from the monthly registrations; 2023 as the GSO published it
    ytd_2024, running = {}, 0.0
    for m in range(1, 13):
        running += float(rows["2024-%02d" % m]["Vốn đăng ký trong tháng"])
        ytd_2024["2024-%02d" % m] = running
    ytd_2023 = {"2024-%02d" % m: float(rows["2023-%02d" % m]["Vốn đăng ký"]) for m in range(1, 13)}
    doc = grid(pack_server, indicator="FDI_REG", orgunit="79", transforms="value,ytd,yoy,yoy_pct",
               **{"from": "2024-01", "to": "2024-12"})
    got = by_period(doc)
    assert sorted(got) == sorted(ytd_2024)
    for month, want in ytd_2024.items():
        row = got[month]
        assert row["ytd"] == pytest.approx(want, rel=1e-12, abs=1e-9), month  # a stock: its year-to-date figure
        assert row["ytd"] == row["value"]
        assert row["yoy"] == ytd_2023[month], month  # the same months of 2023
        assert row["yoy_pct"] == pytest.approx(100.0 * (want - ytd_2023[month]) / ytd_2023[month], rel=1e-9), month
    assert got["2024-12"]["yoy_pct"] < 0 < got["2024-12"]["ytd"]  # 2024 ended below 2023

    # the 2025 plan of the demo (2024 + 10%) and how January 2025 stands against it
    plan = [t for t in cli_rows(pack_server.store, "catalog", "list", "targets")
            if t["indicator"] == "FDI_REG" and t["orgunit"] == "79" and t["kind"] == "plan"]
    assert [t["period"] for t in plan] == ["2025"]
    value = float(plan[0]["value"])
    doc = grid(pack_server, indicator="FDI_REG", orgunit="79", transforms="ytd,plan,plan_pct,status",
               **{"from": "2025-01", "to": "2025-01"})
    (row,) = doc["rows"]
    jan = float(rows["2025-01"]["Vốn đăng ký"])
    assert row["ytd"] == jan and row["plan"] == value
    assert row["plan_pct"] == pytest.approx(100.0 * jan / value, rel=1e-12)
    assert row["status"] == "off_track"  # January's figure is negative


# ---------------------------------------------------------------- the synthetic demo city


def test_rebase_gives_todays_wards_a_history_that_keeps_totals(pack_server):
    """June 2025 (before the merger) is stored at the 441 old wards; rebased, it is re-expressed at the
    168 units of today through the successions' weights, and the city total is the same."""
    h = bearer(pack_server.token("analyst"))
    units = cli_rows(pack_server.store, "catalog", "list", "orgunits")
    legacy = {u["code"] for u in units if u["valid_to"] == "2025-06-30"}
    today = ",".join(u["code"] for u in units if u["parent"] == "79" and u["valid_from"] == "2025-07-01")
    old = cli_rows(pack_server.store, "export", "--indicator", "WASTE_COLLECTED", "--from", "2025-06", "--to", "2025-06")
    assert len(old) > 400 and {r["orgunit"] for r in old} <= legacy
    plain = grid(pack_server, h, indicator="WASTE_COLLECTED", orgunit=today, **{"from": "2025-06", "to": "2025-06"})
    assert [r["value"] for r in plain["rows"]] == [None] * 168
    rebased = grid(pack_server, h, indicator="WASTE_COLLECTED", orgunit=today, rebase="true",
                   **{"from": "2025-06", "to": "2025-06"})
    values = [r["value"] for r in rebased["rows"]]
    assert len(values) == 168 and all(v is not None for v in values)
    assert sum(values) == pytest.approx(sum(float(r["value"]) for r in old), rel=1e-9)
    assert problem(pack_server.get("/api/v1/analytics?indicator=WASTE_COLLECTED&orgunit=79&rebase=yes",
                                   headers=h), 400)["errors"][0]["path"] == "rebase"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("analytics")), demo=True)
    with Server(store) as srv:
        srv.analyst = bearer(srv.token("analyst"))
        srv.steward = bearer(srv.token("steward"))
        yield srv


def series(srv, ind, unit):
    return {r["period"]: float(r["value"]) for r in cli_rows(srv.store, "query", "series", ind, unit)}


def test_transforms_equal_the_store(city):
    values = series(city, "RETAIL_SALES", "VN")
    doc = grid(city, indicator="RETAIL_SALES", orgunit="VN", transforms="value,yoy,yoy_pct,prev,mom,ytd",
               **{"from": "2023-11", "to": "2024-03"})
    assert doc["transforms"] == ["value", "yoy", "yoy_pct", "prev", "mom", "ytd"] and doc["total_rows"] == 5
    months = ["2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    assert [r["period"] for r in doc["rows"]] == months
    for row in doc["rows"]:
        y, m = map(int, row["period"].split("-"))
        key = "%04d-%02d" % (y, m)
        back = "%04d-%02d" % (y - 1, m)
        prev = "%04d-%02d" % (y, m - 1) if m > 1 else "%04d-12" % (y - 1)
        ytd = 0.0
        for k in range(1, m + 1):
            ytd += values["%04d-%02d" % (y, k)]
        assert row["value"] == values[key]
        assert row["yoy"] == values[back] and row["yoy_pct"] == pct(values[key], values[back])
        assert row["prev"] == values[prev] and row["mom"] == pct(values[key], values[prev])
        assert row["ytd"] == ytd
        assert row["indicator"] == "RETAIL_SALES" and row["orgunit"] == "VN"


def test_series_cross_section_and_rollup_equal_the_store(city):
    h = city.analyst
    # a series
    doc = grid(city, h, indicator="BUSINESS_REG", orgunit="90001", **{"from": "2025-07", "to": "2025-12"})
    want = series(city, "BUSINESS_REG", "90001")
    assert {p: r["value"] for p, r in by_period(doc).items() if r["value"] is not None} == \
        {p: v for p, v in want.items() if "2025-07" <= p <= "2025-12"}
    # a cross-section: the children of 79 in one month
    cross = {r["orgunit"]: float(r["value"]) for r in cli_rows(city.store, "query", "cross", "BUSINESS_REG",
                                                                "2025-09", "--parent", "79") if r["value"]}
    doc = grid(city, h, indicator="BUSINESS_REG", children_of="79", **{"from": "2025-09", "to": "2025-09"})
    got = {r["orgunit"]: r["value"] for r in doc["rows"]}
    assert {u: v for u, v in got.items() if v is not None} == cross and len(cross) == 168
    assert all(r["count"] == 1 for r in doc["rows"] if r["value"] is not None)
    # a roll-up: the city total per month, with the count of contributing units
    rollup = {r["period"]: r for r in cli_rows(city.store, "query", "rollup", "BUSINESS_REG", "79",
                                               "--from", "2025-07", "--to", "2025-09")}
    doc = grid(city, h, indicator="BUSINESS_REG", orgunit="79", **{"from": "2025-07", "to": "2025-09"})
    assert {r["period"]: (r["value"], r["count"]) for r in doc["rows"]} == \
        {p: (float(r["value"]), int(r["count"])) for p, r in rollup.items()}
    assert sum(cross.values()) == by_period(doc)["2025-09"]["value"]


def test_rank_equals_the_cross_section(city):
    h = city.analyst
    cross = {r["orgunit"]: float(r["value"]) for r in cli_rows(city.store, "query", "cross", "BUSINESS_REG",
                                                                "2025-09", "--parent", "79") if r["value"]}
    r = city.get("/api/v1/rank?indicator=BUSINESS_REG&period=2025-09&children_of=79", headers=h)
    assert r.status == 200, r
    doc = r.json()
    assert (doc["indicator"], doc["period"], doc["parent"], doc["transform"], doc["polarity"]) == \
        ("BUSINESS_REG", "2025-09", "79", "value", "higher")
    ordered = sorted(cross.items(), key=lambda kv: -kv[1])  # stable: ties keep the units' order
    assert [(u["orgunit"], u["value"]) for u in doc["units"]] == ordered
    for u in doc["units"]:  # competition ranks: 1 + the number of better units
        assert u["rank"] == 1 + sum(1 for v in cross.values() if v > u["value"])
    assert doc["without_value"] == 7  # the monitoring sites under 79
    # the grid's rank transform agrees
    g = grid(city, h, indicator="BUSINESS_REG", children_of="79", transforms="rank", **{"from": "2025-09", "to": "2025-09"})
    assert {row["orgunit"]: row["rank"] for row in g["rows"] if row["rank"] is not None} == \
        {u["orgunit"]: u["rank"] for u in doc["units"]}
    # the top 10 on the change against the previous month
    top = city.get("/api/v1/rank?indicator=BUSINESS_REG&period=2025-09&parent=79&transform=mom&limit=10",
                   headers=h).json()
    assert len(top["units"]) == 10 and top["transform"] == "mom"
    values = {u: series(city, "BUSINESS_REG", u) for u in [x["orgunit"] for x in top["units"][:3]]}
    for u in top["units"][:3]:
        assert u["mom"] == pct(values[u["orgunit"]]["2025-09"], values[u["orgunit"]]["2025-08"])
    assert [u["mom"] for u in top["units"]] == sorted((u["mom"] for u in top["units"]), reverse=True)
    # CSV
    text = city.get("/api/v1/rank?indicator=BUSINESS_REG&period=2025-09&parent=79&transform=mom&limit=3&format=csv",
                    headers=h).text
    lines = text.splitlines()
    assert lines[0] == "rank,orgunit,name,value,mom" and len(lines) == 4
    assert lines[1].split(",")[:2] == [str(top["units"][0]["rank"]), top["units"][0]["orgunit"]]


def test_plan_percent_and_status(city):
    targets = {(t["indicator"], t["orgunit"], t["period"]): float(t["value"])
               for t in cli_rows(city.store, "catalog", "list", "targets") if t["kind"] == "plan"}
    plan = targets[("BUDGET_INVEST", "79", "2025")]
    values = series(city, "BUDGET_INVEST", "79")
    doc = grid(city, indicator="BUDGET_INVEST", orgunit="79", transforms="ytd,plan,plan_pct,status",
               **{"from": "2025-01", "to": "2025-12"})
    ytd = 0.0
    for m in range(1, 13):
        row = by_period(doc)["2025-%02d" % m]
        v = values.get("2025-%02d" % m)
        assert row["plan"] == plan
        if v is None:  # the months without data: no year to date, no status
            assert row["ytd"] is None and row["plan_pct"] is None and row["status"] is None
            continue
        ytd += v
        assert row["ytd"] == ytd and row["plan_pct"] == 100.0 * ytd / plan
        achieved = 100.0 * ytd / (plan * m / 12)  # a flow: against the part of the plan due by the month
        want = "on_track" if achieved >= 90 else "at_risk" if achieved >= 75 else "off_track"
        assert row["status"] == want, (m, achieved)
    assert {r["status"] for r in doc["rows"]} >= {"off_track", "on_track"}


def test_pages_csv_and_cursors(city):
    h = city.analyst
    params = {"indicator": "BUSINESS_REG,TRAFFIC_ACCIDENTS", "children_of": "79", "transforms": "value,yoy_pct,ytd,rank",
              "from": "2025-07", "to": "2025-12"}
    whole = grid(city, h, **params)
    assert whole["total_rows"] == len(whole["rows"]) == 2 * 175 * 6 and "next_cursor" not in whole
    rows, cursor, pages = [], None, 0
    while True:
        extra = {"limit": 500}
        if cursor:
            extra["cursor"] = cursor
        page = grid(city, h, **params, **extra)
        rows += page["rows"]
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert pages == 5 and rows == whole["rows"]
    # CSV: the same rows, missing values as empty cells
    query = "&".join("%s=%s" % (k, v) for k, v in params.items())
    r = city.get("/api/v1/analytics?format=csv&limit=400&" + query, headers=h)
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv") and r.header("Next-Cursor")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert list(table[0]) == ["indicator", "orgunit", "period", "value", "yoy_pct", "ytd", "rank", "count", "expected"]
    assert len(table) == 400
    for t, j in zip(table, whole["rows"]):
        assert (t["indicator"], t["orgunit"], t["period"]) == (j["indicator"], j["orgunit"], j["period"])
        for k in ("value", "yoy_pct", "ytd", "rank"):
            assert (t[k] == "" and j[k] is None) or float(t[k]) == j[k], (k, t, j)
        assert (int(t["count"]), int(t["expected"])) == (j["count"], j["expected"])


def test_limits_and_bad_requests(city):
    h = city.analyst
    every = ",".join(r["code"] for r in cli_rows(city.store, "catalog", "list", "indicators"))
    p = problem(city.get("/api/v1/analytics?indicator=%s&children_of=79&from=2016-01&to=2025-12"
                         "&transforms=value,yoy,yoy_pct,prev,mom,ytd,plan,plan_pct,rank,status" % every, headers=h), 413)
    assert "at most 2000000 are computed in one request" in p["detail"]
    cases = [
        ("", 400, "indicator"),
        ("indicator=", 400, "indicator"),
        ("indicator=CPI_YOY", 400, "orgunit"),
        ("indicator=CPI_YOY&orgunit=", 400, "orgunit"),
        ("indicator=CPI_YOY&orgunit=VN&transforms=value,growth", 400, "transforms"),
        ("indicator=CPI_YOY&orgunit=VN&transforms=yoy,yoy", 400, "transforms"),
        ("indicator=CPI_YOY&orgunit=VN&transforms=", 400, "transforms"),
        ("indicator=CPI_YOY&orgunit=VN&transforms=value,,yoy", 400, "transforms"),
        ("indicator=CPI_YOY&orgunit=VN&from=2024-13", 400, "from"),
        ("indicator=CPI_YOY&orgunit=VN&from=2024-06&to=2024-05", 400, "to"),
        ("indicator=CPI_YOY&orgunit=VN&limit=0", 400, "limit"),
        ("indicator=CPI_YOY&orgunit=VN&cursor=zz", 400, "cursor"),
        ("indicator=NOPE&orgunit=VN", 404, "indicator"),
        ("indicator=CPI_YOY&orgunit=NOPE", 404, "orgunit"),
        ("indicator=CPI_YOY&children_of=NOPE", 404, "children_of"),
    ]
    for query, status, path in cases:
        p = problem(city.get("/api/v1/analytics?" + query, headers=h), status)
        assert [e["path"] for e in p["errors"]] == [path], (query, p)
    rank_cases = [
        ("period=2025-09&children_of=79", 400, "indicator"),
        ("indicator=BUSINESS_REG&children_of=79", 400, "period"),
        ("indicator=BUSINESS_REG&period=2025", 400, "period"),
        ("indicator=BUSINESS_REG&period=2025-09", 400, "children_of"),
        ("indicator=BUSINESS_REG&period=2025-09&children_of=79&transform=rank", 400, "transform"),
        ("indicator=BUSINESS_REG&period=2025-09&children_of=NOPE", 404, "children_of"),
    ]
    for query, status, path in rank_cases:
        p = problem(city.get("/api/v1/rank?" + query, headers=h), status)
        assert [e["path"] for e in p["errors"]] == [path], (query, p)


def test_public_callers_see_public_indicators_only(city):
    # BUSINESS_REG is not public: anonymous callers are told it does not exist
    p = problem(city.get("/api/v1/analytics?indicator=BUSINESS_REG&orgunit=79"), 404)
    assert p["errors"] == [{"path": "indicator", "message": "unknown indicator 'BUSINESS_REG'"}]
    problem(city.get("/api/v1/analytics?indicator=CPI_YOY,BUSINESS_REG&orgunit=VN"), 404)
    problem(city.get("/api/v1/rank?indicator=BUSINESS_REG&period=2025-09&children_of=79"), 404)
    public = bearer(city.token("public"))
    problem(city.get("/api/v1/rank?indicator=BUSINESS_REG&period=2025-09&children_of=79", headers=public), 404)
    assert grid(city, public, indicator="CPI_YOY", orgunit="VN", **{"from": "2024-01", "to": "2024-01"})["rows"]


def test_the_cube_follows_the_writes(city):
    h = city.steward
    ind = {"code": "PARK_VISITS", "name": "Lượt khách công viên", "periodicity": "month", "agg_space": "sum",
           "agg_time": "sum", "polarity": "higher", "is_public": True}
    assert city.post("/api/v1/indicators", [ind], headers=h).status == 200
    before = grid(city, indicator="PARK_VISITS", orgunit="79", **{"from": "2025-08", "to": "2025-09"})
    assert [r["value"] for r in before["rows"]] == [None, None]
    body = "indicator,orgunit,period,value\n" + "".join(
        "PARK_VISITS,%s,%s,%s\n" % (u, p, v) for u, p, v in
        [("90001", "2025-08", 100), ("90002", "2025-08", 50), ("90001", "2025-09", 120), ("90002", "2025-09", 40)])
    r = city.post("/api/v1/data", body, headers=dict(h, **{"Content-Type": "text/csv"}))
    assert r.status == 201, r
    after = grid(city, indicator="PARK_VISITS", orgunit="79,90001", transforms="value,mom,ytd,rank",
                 **{"from": "2025-08", "to": "2025-09"})
    assert after["version"] > before["version"]
    got = {(r["orgunit"], r["period"]): (r["value"], r["mom"], r["rank"], r["count"]) for r in after["rows"]}
    assert got[("79", "2025-08")][::3] == (150, 2) and got[("79", "2025-08")][1] is None  # no July
    assert got[("79", "2025-09")][::3] == (160, 2) and got[("79", "2025-09")][1] == pct(160, 150)
    assert got[("90001", "2025-08")] == (100, None, 1, 1)
    assert got[("90001", "2025-09")] == (120, 20.0, 1, 1)
    # a revision reaches the cube; a replayed batch changes nothing
    keyed = dict(h, **{"Content-Type": "text/csv", "Idempotency-Key": "parks-1"})
    assert city.post("/api/v1/data", "indicator,orgunit,period,value\nPARK_VISITS,90002,2025-09,200\n",
                     headers=keyed).status == 201
    version = grid(city, indicator="PARK_VISITS", orgunit="79", **{"from": "2025-09", "to": "2025-09"})
    assert version["rows"][0]["value"] == 320
    r = city.post("/api/v1/data", "indicator,orgunit,period,value\nPARK_VISITS,90002,2025-09,999\n", headers=keyed)
    assert r.status == 201 and r.header("Idempotent-Replayed") == "true"
    again = grid(city, indicator="PARK_VISITS", orgunit="79", **{"from": "2025-09", "to": "2025-09"})
    assert again["rows"][0]["value"] == 320 and again["version"] == version["version"]
    # a plan set through the API is used at once
    assert city.post("/api/v1/targets", [{"indicator": "PARK_VISITS", "orgunit": "79", "period": "2025", "kind": "plan",
                                          "value": 800}], headers=h).status == 200
    last = grid(city, indicator="PARK_VISITS", orgunit="79", transforms="ytd,plan,plan_pct",
                **{"from": "2025-09", "to": "2025-09"})
    assert last["version"] == again["version"] + 1  # the catalog changed: a new version
    row = last["rows"][0]
    assert row == {"indicator": "PARK_VISITS", "orgunit": "79", "period": "2025-09", "ytd": None, "plan": 800,
                   "plan_pct": None, "count": 2, "expected": 168}  # January to July are missing: no year to date; the sites report no parks
    metrics = city.get("/metrics").text
    assert "\ndatabrain_cube_version %d\n" % last["version"] in metrics
