"""The catalog and data routes of the HTTP API, end to end: the real `databrain serve` on the synthetic
demo city, real HTTP, answers checked against what the command line says about the same store (the CLI
is the independent reference: `catalog list`, `export`, `query series`).

Read-only tests share one server per module (demo_server); tests that write get a fresh store and
server of their own (the `fresh` fixture), so no test depends on another's writes."""
import csv
import io
import json
import time
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from server import Server, demo_server, make_store, run_cli  # noqa: F401 (demo_server is a fixture)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def rows(text):
    """A CSV text as a list of dicts."""
    return list(csv.DictReader(io.StringIO(text)))


def cli(srv, *args):
    return run_cli(srv.store, *args).stdout


def problem(r, status):
    """Asserts a problem answer of `status` and returns it."""
    assert r.status == status, r
    p = r.problem()
    assert p["status"] == status and p["title"] and p["type"].startswith("https://")
    return p


def paths(p):
    return [e["path"] for e in p["errors"]]


@pytest.fixture(scope="module")
def analyst(demo_server):
    return bearer(demo_server.token("analyst"))


@pytest.fixture
def fresh(tmp_path):
    srv = Server(make_store(str(tmp_path), demo=True))
    yield srv
    srv.stop()


@pytest.fixture
def steward(fresh):
    return bearer(fresh.token("steward"))


# ---------------------------------------------------------------- org units

def test_orgunits_list_and_filters(demo_server):
    every = {u["code"]: u for u in rows(cli(demo_server, "catalog", "list", "orgunits"))}
    r = demo_server.get("/api/v1/orgunits")
    assert r.status == 200 and r.header("Content-Type").startswith("application/json")
    units = r.json()["orgunits"]
    assert {u["code"] for u in units} == set(every)
    u = {x["code"]: x for x in units}["90001"]
    assert u == {"code": "90001", "name": "Phường Tân Định", "name_en": "Tan Dinh Ward", "kind": "ward",
                 "parent": "79", "valid_from": "2025-07-01", "population": 141268.0, "area_km2": 1.95}

    r = demo_server.get("/api/v1/orgunits?parent=79&valid_on=2025-07-01")
    want = {c for c, x in every.items() if x["parent"] == "79" and not x["valid_to"]}
    assert {x["code"] for x in r.json()["orgunits"]} == want and len(want) == 168 + 7
    r = demo_server.get("/api/v1/orgunits?parent=79&valid_on=2025-06-30")
    assert {x["code"] for x in r.json()["orgunits"]} == \
        {c for c, x in every.items() if x["parent"] == "79" and not x["valid_from"]}
    assert len(demo_server.get("/api/v1/orgunits?kind=ward").json()["orgunits"]) == 113
    assert len(demo_server.get("/api/v1/orgunits?kind=commune").json()["orgunits"]) == 54
    assert len(demo_server.get("/api/v1/orgunits?kind=Ph%C6%B0%E1%BB%9Dng").json()["orgunits"]) == 113  # Phường

    # search by name, with or without diacritics, and by code
    for q in ("Tân Định", "tan dinh", "TAN DINH", "t%C3%A2n %C4%91%E1%BB%8Bnh"):
        found = demo_server.get("/api/v1/orgunits?q=" + quote(q, safe="%")).json()["orgunits"]
        assert "90001" in [x["code"] for x in found], q
        assert all("tan dinh" in x["name_en"].lower() or "Tân Định" in x["name"] for x in found)
    assert [x["code"] for x in demo_server.get("/api/v1/orgunits?q=AQ0").json()["orgunits"]] == \
        ["AQ01", "AQ02", "AQ03", "AQ04", "AQ05", "AQ06"]


def test_orgunits_csv_is_the_cli_listing(demo_server):
    r = demo_server.get("/api/v1/orgunits?format=csv")
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    assert r.text == cli(demo_server, "catalog", "list", "orgunits")
    r = demo_server.get("/api/v1/orgunits", headers={"Accept": "text/csv"})
    assert r.text == cli(demo_server, "catalog", "list", "orgunits")
    r = demo_server.get("/api/v1/orgunits?format=csv&kind=special_zone")
    assert [x["code"] for x in rows(r.text)] == [x["code"] for x in rows(cli(demo_server, "catalog", "list", "orgunits"))
                                                 if x["kind"] == "special_zone"]


def test_orgunits_bad_filters(demo_server):
    assert paths(problem(demo_server.get("/api/v1/orgunits?kind=planet"), 400)) == ["kind"]
    assert paths(problem(demo_server.get("/api/v1/orgunits?valid_on=2025-02-30"), 400)) == ["valid_on"]
    assert paths(problem(demo_server.get("/api/v1/orgunits?parent=NOPE"), 404)) == ["parent"]
    assert paths(problem(demo_server.get("/api/v1/orgunits/tree?depth=-1"), 400)) == ["depth"]
    assert paths(problem(demo_server.get("/api/v1/orgunits/tree?root=NOPE"), 404)) == ["root"]


def test_orgunits_tree(demo_server):
    tree = demo_server.get("/api/v1/orgunits/tree").json()["tree"]
    assert [n["code"] for n in tree] == ["VN"] and tree[0]["kind"] == "country" and tree[0]["level"] == 0
    city = [n for n in tree[0]["children"] if n["code"] == "79"][0]
    assert city["name"] == "Thành phố Hồ Chí Minh" and len(city["children"]) == 168 + 7 + 22
    district = [n for n in city["children"] if n["kind"] == "legacy_district"][0]
    assert district["children"] and all(c["kind"] == "legacy_ward" for c in district["children"])

    r = demo_server.get("/api/v1/orgunits/tree?root=79&valid_on=2025-07-01&depth=1")
    (node,) = r.json()["tree"]
    assert node["code"] == "79" and len(node["children"]) == 168 + 7
    assert all(c["children"] == [] for c in node["children"])
    (node,) = demo_server.get("/api/v1/orgunits/tree?root=79&depth=0").json()["tree"]
    assert node == {"code": "79", "name": "Thành phố Hồ Chí Minh", "kind": "city", "level": 1, "children": []}


def test_orgunits_geojson(demo_server):
    want = json.loads(cli(demo_server, "catalog", "list", "geometry"))["features"]
    r = demo_server.get("/api/v1/orgunits/geojson?parent=79")
    assert r.status == 200 and r.header("Content-Type") == "application/geo+json"
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(want) == 168
    by_code = {f["properties"]["code"]: f for f in doc["features"]}
    for f in want:
        got = by_code[f["properties"]["code"]]
        assert got["type"] == "Feature" and got["geometry"] == f["geometry"]
        assert got["properties"] == dict(f["properties"], kind=got["properties"]["kind"])
        assert got["properties"]["kind"] in ("ward", "commune", "special_zone")
    assert demo_server.get("/api/v1/orgunits/geojson?parent=90001").json() == \
        {"type": "FeatureCollection", "features": []}


def test_orgunit_one(demo_server):
    successions = rows(cli(demo_server, "catalog", "list", "successions"))
    u = demo_server.get("/api/v1/orgunits/90001").json()
    assert u["code"] == "90001" and u["kind"] == "ward" and u["level"] == 2 and u["children"] == []
    assert u["geometry"]["type"] == "Polygon"
    assert u["successors"] == []
    assert sorted(p["code"] for p in u["predecessors"]) == sorted(s["from"] for s in successions if s["to"] == "90001")
    assert all(p["weight"] == 1.0 and p["partial"] is False and p["date"] == "2025-07-01" for p in u["predecessors"])
    old = u["predecessors"][0]["code"]
    o = demo_server.get("/api/v1/orgunits/" + old).json()
    assert o["kind"] == "legacy_ward" and o["valid_to"] == "2025-06-30"
    assert [s["code"] for s in o["successors"]] == [s["to"] for s in successions if s["from"] == old]
    city = demo_server.get("/api/v1/orgunits/79").json()
    assert len(city["children"]) == 168 + 7 + 22 and "90001" in city["children"] and city["parent"] == "VN"
    assert paths(problem(demo_server.get("/api/v1/orgunits/NOPE"), 404)) == ["code"]


# ---------------------------------------------------------------- agencies, dimensions

def test_agencies_and_dimensions(demo_server):
    listed = rows(cli(demo_server, "catalog", "list", "agencies"))
    agencies = demo_server.get("/api/v1/agencies").json()["agencies"]
    assert [a["code"] for a in agencies] == [a["code"] for a in listed] and len(agencies) == 181
    assert {a["code"]: a for a in agencies}["DOET"] == {
        "code": "DOET", "name": "Sở Giáo dục và Đào tạo", "name_en": "Department of Education and Training",
        "kind": "department", "orgunit": "79", "parent": "PC79"}
    assert demo_server.get("/api/v1/agencies?format=csv").text == cli(demo_server, "catalog", "list", "agencies")
    # the one dimension of the demo city: the agencies, for the figures kept per agency (data supply, tasks)
    dims = demo_server.get("/api/v1/dimensions").json()["dimensions"]
    assert [(d["code"], [i["code"] for i in d["items"]]) for d in dims] == [("AGENCY", [a["code"] for a in agencies])]
    csv_lines = demo_server.get("/api/v1/dimensions?format=csv").text.splitlines()
    assert csv_lines[0] == "code,name,item,item_name" and len(csv_lines) == 1 + len(agencies)


# ---------------------------------------------------------------- indicators

def test_indicators_public_and_all(demo_server, analyst):
    listed = rows(cli(demo_server, "catalog", "list", "indicators"))
    public = [i["code"] for i in listed if i["is_public"] == "1"]
    # 47 with data and the derived WARD_DEV_INDEX, then the figures databrain keeps itself (tasks, data supply)
    # and the inputs of the demo's scenarios
    assert 0 < len(public) < len(listed) == 60
    assert [i["code"] for i in listed][48:] == [
        "TASK_ONTIME_PCT", "TASK_OVERDUE", "TASK_DELAY_AVG", "TASK_ITEMS", "RAIN_1H_MM", "FLOOD_DEPTH_CM",
        "WATER_LEVEL_CM", "DENGUE_CASES", "DQ_SCORE", "DQ_COMPLETENESS", "DQ_TIMELINESS", "DQ_VALIDITY"]
    anon = demo_server.get("/api/v1/indicators").json()["indicators"]
    assert [i["code"] for i in anon] == public and all(i["is_public"] is True for i in anon)
    every = demo_server.get("/api/v1/indicators", headers=analyst).json()["indicators"]
    assert [i["code"] for i in every] == [i["code"] for i in listed]
    public_token = bearer(demo_server.token("public"))
    assert [i["code"] for i in demo_server.get("/api/v1/indicators", headers=public_token).json()["indicators"]] == public
    # CSV: the columns of `catalog list indicators`
    assert demo_server.get("/api/v1/indicators?format=csv", headers=analyst).text == \
        cli(demo_server, "catalog", "list", "indicators")
    assert [i["code"] for i in rows(demo_server.get("/api/v1/indicators?format=csv").text)] == public


def test_indicator_search_with_and_without_diacritics(demo_server, analyst):
    def search(q, headers=None):
        r = demo_server.get("/api/v1/indicators?q=" + quote(q), headers=headers)
        assert r.status == 200, r
        return [i["code"] for i in r.json()["indicators"]]

    cpi = ["CPI_YOY", "CPI_MOM", "CPI_AVG_YOY", "GOLD_PRICE_YOY", "USD_PRICE_YOY", "CPI_FOOD_YOY",
           "CPI_HOUSING_YOY", "CPI_TRANSPORT_YOY", "CPI_HEALTH_YOY", "CPI_EDUCATION_YOY",
           "INFL_DEFLATOR"]  # "Lạm phát theo chỉ số giảm phát GDP": "chi so giam" holds "chi so gia"
    assert search("Chỉ số giá") == cpi
    assert search("chi so gia") == cpi
    assert search("CHI SO GIA") == cpi
    assert search("Chi\u0309 so\u0302\u0301 gia\u0301") == cpi  # decomposed (NFD) diacritics
    assert search("cpi_yoy") == ["CPI_YOY"]
    assert search("bán lẻ") == search("ban le") == ["RETAIL_SALES", "RETAIL_GOODS"]
    assert search("duong") == []  # no name has "dường"/"đường"… in the demo
    # names of non-public indicators are not searchable by the public
    assert search("so truong hoc") == []
    assert search("so truong hoc", analyst) == ["SCHOOLS"]
    # filters
    r = demo_server.get("/api/v1/indicators?group=plan2025", headers=analyst).json()["indicators"]
    assert [i["code"] for i in r] == ["CPI_YOY", "RETAIL_SALES", "EXPORTS", "FDI_REG", "BUDGET_INVEST",
                                      "WASTE_COLLECTED", "BUSINESS_REG"]
    r = demo_server.get("/api/v1/indicators?sector=trade&q=xuat").json()["indicators"]
    assert [i["code"] for i in r] == ["EXPORTS"]
    assert demo_server.get("/api/v1/indicators?group=prices&sector=industry").json() == {"indicators": []}


def test_indicator_one(demo_server, analyst):
    i = demo_server.get("/api/v1/indicators/CPI_YOY").json()
    assert i == {
        "code": "CPI_YOY", "name": "Chỉ số giá tiêu dùng so với cùng kỳ năm trước",
        "name_en": "Consumer price index, year on year",
        "description": "Change of the consumer price index (all items) against the same month of the previous "
                       "year, Viet Nam.",
        "unit": "%", "unit_mult": 0, "decimals": 2, "periodicity": "month", "period_span": 0, "agg_space": "none",
        "agg_time": "last", "polarity": "lower", "owner": "STATS", "sector": "prices",
        "groups": "gso_monthly;prices;plan2025", "is_public": True, "source": "synthetic", "synthetic": True,
        "band_at_risk": 90.0, "band_off_track": 75.0,
        "targets": [{"indicator": "CPI_YOY", "orgunit": "VN", "period": "2025", "kind": "threshold", "value": 4.5,
                     "source": "Nghị quyết 158/2024/QH15 về Kế hoạch phát triển kinh tế - xã hội năm 2025 "
                               "(CPI tăng khoảng 4,5%)"}]}
    # a non-public indicator is not there for the public, exactly like an unknown one
    hidden = problem(demo_server.get("/api/v1/indicators/SCHOOLS"), 404)
    unknown = problem(demo_server.get("/api/v1/indicators/NOPE"), 404)
    assert hidden["errors"] == [{"path": "code", "message": "unknown indicator 'SCHOOLS'"}]
    assert unknown["errors"] == [{"path": "code", "message": "unknown indicator 'NOPE'"}]
    s = demo_server.get("/api/v1/indicators/SCHOOLS", headers=analyst).json()
    assert s["code"] == "SCHOOLS" and s["is_public"] is False and s["owner"] == "DOET" and s["targets"] == []


def test_targets(demo_server, analyst):
    listed = rows(cli(demo_server, "catalog", "list", "targets"))
    r = demo_server.get("/api/v1/targets?indicator=BUDGET_INVEST").json()["targets"]
    assert [(t["orgunit"], t["period"], t["kind"]) for t in r] == [("79", "2025", "plan"), ("VN", "2025", "plan")]
    assert r[0]["value"] == float([t for t in listed if t["indicator"] == "BUDGET_INVEST"][0]["value"])
    # the public sees the targets of public indicators only
    public = {i["code"] for i in rows(cli(demo_server, "catalog", "list", "indicators")) if i["is_public"] == "1"}
    anon = demo_server.get("/api/v1/targets").json()["targets"]
    assert len(anon) == len([t for t in listed if t["indicator"] in public]) == 6
    assert demo_server.get("/api/v1/targets?format=csv", headers=analyst).text == \
        cli(demo_server, "catalog", "list", "targets")
    ward = demo_server.get("/api/v1/targets?orgunit=90001", headers=analyst).json()["targets"]
    assert [(t["indicator"], t["period"]) for t in ward] == [("BUSINESS_REG", "2025"), ("WASTE_COLLECTED", "2025")]
    assert demo_server.get("/api/v1/targets?orgunit=90001").json() == {"targets": []}
    assert paths(problem(demo_server.get("/api/v1/targets?indicator=BUSINESS_REG"), 404)) == ["indicator"]
    assert paths(problem(demo_server.get("/api/v1/targets?orgunit=NOPE"), 404)) == ["orgunit"]


# ---------------------------------------------------------------- data: reads

def test_data_get_matches_the_cli(demo_server, analyst):
    r = demo_server.get("/api/v1/data?indicator=CPI_YOY&orgunit=VN&from=2024-10&to=2024-12")
    assert r.status == 200
    assert r.json() == {"observations": [
        {"indicator": "CPI_YOY", "orgunit": "VN", "period": p, "value": v, "status": "provisional", "revision": 1}
        for p, v in (("2024-10", 3.77), ("2024-11", 3.95), ("2024-12", 3.53))]}
    # any period type bounds any indicator: the periods that overlap [start of from, end of to)
    r = demo_server.get("/api/v1/data?indicator=CPI_YOY&orgunit=VN&from=2024-Q4&to=2024")
    assert [o["period"] for o in r.json()["observations"]] == ["2024-10", "2024-11", "2024-12"]
    # CSV is what `databrain export` writes for the same question
    r = demo_server.get("/api/v1/data?indicator=PM25,NO2&orgunit=AQ01,AQ02&from=2025-01-01&to=2025-01-31&format=csv")
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    assert r.text == cli(demo_server, "export", "--indicator", "PM25,NO2", "--orgunit", "AQ01,AQ02",
                         "--from", "2025-01-01", "--to", "2025-01-31")
    assert len(rows(r.text)) == 2 * 2 * 31 * 24
    # children_of: every ward of the city
    r = demo_server.get("/api/v1/data?indicator=POPULATION&children_of=79&from=2025&to=2025&limit=1000000")
    cross = rows(cli(demo_server, "query", "cross", "POPULATION", "2025", "--parent", "79"))
    assert {o["orgunit"]: o["value"] for o in r.json()["observations"]} == \
        {c["orgunit"]: float(c["value"]) for c in cross}
    assert len(cross) == 168
    # the public sees public indicators only; others see everything
    anon = demo_server.get("/api/v1/data?orgunit=90001&limit=1000000").json()["observations"]
    every = demo_server.get("/api/v1/data?orgunit=90001&limit=1000000", headers=analyst).json()["observations"]
    public = {i["code"] for i in demo_server.get("/api/v1/indicators").json()["indicators"]}
    assert anon and {o["indicator"] for o in anon} <= public
    assert "SCHOOLS" in {o["indicator"] for o in every}
    assert [o for o in every if o["indicator"] in public] == anon
    assert paths(problem(demo_server.get("/api/v1/data?indicator=SCHOOLS"), 404)) == ["indicator"]
    assert demo_server.get("/api/v1/data?indicator=SCHOOLS&orgunit=90001&from=2025-07&to=2025-07",
                           headers=analyst).json()["observations"][0]["value"] == 33


def test_data_get_bad_queries(demo_server):
    for query, where, status in (("indicator=NOPE", "indicator", 404), ("orgunit=NOPE", "orgunit", 404),
                                 ("children_of=NOPE", "children_of", 404), ("limit=0", "limit", 400),
                                 ("limit=1000001", "limit", 400), ("limit=ten", "limit", 400),
                                 ("cursor=zz", "cursor", 400), ("from=2024-13", "from", 400),
                                 ("to=yesterday", "to", 400), ("as_of=2025-02-30T00:00:00Z", "as_of", 400)):
        assert paths(problem(demo_server.get("/api/v1/data?" + query), status)) == [where], query


def test_data_pagination_with_cursor(demo_server):
    base = "/api/v1/data?indicator=PM25,NO2&orgunit=AQ01,AQ02&from=2025-01-01&to=2025-01-10"
    whole = demo_server.get(base + "&limit=1000000").json()
    assert "next_cursor" not in whole and len(whole["observations"]) == 4 * 10 * 24
    got, cursor, pages = [], None, 0
    while True:
        r = demo_server.get(base + "&limit=100" + ("&cursor=" + cursor if cursor else ""))
        assert r.status == 200
        page = r.json()
        got += page["observations"]
        pages += 1
        assert len(page["observations"]) <= 100
        cursor = page.get("next_cursor")
        assert r.header("Next-Cursor") == cursor
        if not cursor:
            break
    assert pages == 10 and got == whole["observations"]
    # CSV pages: the header each time, the cursor in the Next-Cursor header
    lines, cursor = [], None
    while True:
        r = demo_server.get(base + "&format=csv&limit=250" + ("&cursor=" + cursor if cursor else ""))
        body = r.text.splitlines()
        assert body[0] == "indicator,orgunit,period,value,status"
        lines += body[1:]
        cursor = r.header("Next-Cursor")
        if not cursor:
            break
    assert ["indicator,orgunit,period,value,status"] + lines == \
        demo_server.get(base + "&format=csv&limit=1000000").text.splitlines()


def test_series(demo_server, analyst):
    s = demo_server.get("/api/v1/series/CPI_YOY/VN?from=2024-10&to=2024-12").json()
    assert s == {"indicator": "CPI_YOY", "orgunit": "VN", "dims": "", "periodicity": "month", "unit": "%",
                 "decimals": 2, "observations": [
                     {"period": "2024-10", "value": 3.77, "status": "provisional", "revision": 1},
                     {"period": "2024-11", "value": 3.95, "status": "provisional", "revision": 1},
                     {"period": "2024-12", "value": 3.53, "status": "provisional", "revision": 1}]}
    full = demo_server.get("/api/v1/series/PM25/AQ03").json()
    want = rows(cli(demo_server, "query", "series", "PM25", "AQ03"))
    assert full["periodicity"] == "hour" and len(full["observations"]) == len(want) == 2160
    assert [(o["period"], round(o["value"], 1)) for o in full["observations"]] == \
        [(w["period"], float(w["value"])) for w in want]
    r = demo_server.get("/api/v1/series/CPI_YOY/VN?from=2024-10&to=2024-12&format=csv")
    assert r.text == "indicator,orgunit,period,value,status\nCPI_YOY,VN,2024-10,3.77,provisional\n" \
                     "CPI_YOY,VN,2024-11,3.95,provisional\nCPI_YOY,VN,2024-12,3.53,provisional\n"
    assert paths(problem(demo_server.get("/api/v1/series/SCHOOLS/90001"), 404)) == ["indicator"]
    assert demo_server.get("/api/v1/series/SCHOOLS/90001", headers=analyst).status == 200
    assert paths(problem(demo_server.get("/api/v1/series/CPI_YOY/NOPE"), 404)) == ["orgunit"]
    assert paths(problem(demo_server.get("/api/v1/series/CPI_YOY/VN?dims=SEX"), 400)) == ["dims"]
    assert demo_server.get("/api/v1/series/CPI_YOY/VN?dims=SEX%3DF").json()["observations"] == []


# ---------------------------------------------------------------- catalog writes

NEW_INDICATOR = {"code": "GREEN_AREA", "name": "Diện tích cây xanh công cộng", "unit": "m²", "periodicity": "year",
                 "agg_space": "sum", "owner": "DAE", "sector": "environment", "is_public": True, "valid_min": 0}


def test_catalog_create_update_delete(fresh, steward):
    r = fresh.post("/api/v1/agencies", [{"code": "PARKS", "name": "Công ty Công viên cây xanh", "kind": "company",
                                         "orgunit": "79", "parent": "DAE"}], headers=steward)
    assert r.status == 200 and r.json() == {"kind": "agencies", "imported": 1}
    r = fresh.post("/api/v1/indicators", {"indicators": [dict(NEW_INDICATOR, owner="PARKS")]}, headers=steward)
    assert r.json() == {"kind": "indicators", "imported": 1}
    got = fresh.get("/api/v1/indicators/GREEN_AREA").json()
    assert got["owner"] == "PARKS" and got["agg_time"] == "sum" and got["decimals"] == 2 and got["targets"] == []
    assert [i["code"] for i in fresh.get("/api/v1/indicators?q=cay%20xanh").json()["indicators"]] == ["GREEN_AREA"]

    # targets as CSV
    r = fresh.post("/api/v1/targets", "indicator,orgunit,period,value,source\nGREEN_AREA,79,2025,1500000,Plan\n",
                   headers=dict(steward, **{"Content-Type": "text/csv"}))
    assert r.json() == {"kind": "targets", "imported": 1}
    assert fresh.get("/api/v1/indicators/GREEN_AREA").json()["targets"] == [
        {"indicator": "GREEN_AREA", "orgunit": "79", "period": "2025", "kind": "plan", "value": 1500000.0,
         "source": "Plan"}]

    # PUT replaces the whole indicator (fields not given take their defaults); 201 when new
    r = fresh.request("PUT", "/api/v1/indicators/GREEN_AREA", {"name": "Cây xanh", "periodicity": "year"},
                      headers=steward)
    assert r.status == 200 and r.json() == {
        "code": "GREEN_AREA", "name": "Cây xanh", "unit_mult": 0, "decimals": 2, "periodicity": "year",
        "period_span": 0, "agg_space": "none", "agg_time": "none", "polarity": "neutral", "is_public": False,
        "synthetic": False, "band_at_risk": 90.0, "band_off_track": 75.0}
    assert problem(fresh.get("/api/v1/indicators/GREEN_AREA"), 404)  # no longer public
    r = fresh.request("PUT", "/api/v1/indicators/TREES", dict(NEW_INDICATOR, code="TREES"), headers=steward)
    assert r.status == 201 and r.json()["code"] == "TREES" and r.json()["is_public"] is True

    # DELETE: an indicator without data goes (with its targets); one with data stays
    assert fresh.request("DELETE", "/api/v1/indicators/GREEN_AREA", headers=steward).status == 204
    assert problem(fresh.get("/api/v1/indicators/GREEN_AREA", headers=steward), 404)
    assert "GREEN_AREA" not in cli(fresh, "catalog", "list", "targets")
    p = problem(fresh.request("DELETE", "/api/v1/indicators/CPI_YOY", headers=steward), 409)
    assert p["errors"] == [{"path": "code", "message": "indicator CPI_YOY has data: observations were written for it"}]
    assert fresh.get("/api/v1/indicators/CPI_YOY").status == 200
    assert paths(problem(fresh.request("DELETE", "/api/v1/indicators/NOPE", headers=steward), 404)) == ["code"]
    # every change is in the audit trail, with the caller as actor
    audit = fresh.get("/api/v1/audit?limit=1000", headers=bearer(fresh.token("admin"))).json()["records"]
    changes = [(a["action"], a["object"]) for a in audit if a["action"].startswith("catalog.")]
    assert changes[-6:] == [("catalog.import", "agencies"), ("catalog.import", "indicators"),
                            ("catalog.import", "targets"), ("catalog.import", "indicators"),
                            ("catalog.import", "indicators"), ("catalog.delete", "indicator:GREEN_AREA")]
    deleted = [a for a in audit if a["action"] == "catalog.delete"][0]
    assert deleted["actor"].startswith("token:") and deleted["detail"]["code"] == "GREEN_AREA"
    assert [a["detail"] for a in audit if a["action"] == "catalog.import"][-1] == {"file": "api", "count": 1}


def test_listings_post_back_unchanged(fresh, steward):
    for kind, query in (("orgunits", "?parent=79"), ("agencies", ""), ("indicators", "")):
        before = cli(fresh, "catalog", "list", kind)
        listing = fresh.get("/api/v1/%s%s" % (kind, query), headers=steward).json()
        r = fresh.post("/api/v1/" + kind, listing, headers=steward)
        assert r.status == 200 and r.json() == {"kind": kind, "imported": len(listing[kind])}, kind
        assert cli(fresh, "catalog", "list", kind) == before, kind
        r = fresh.post("/api/v1/" + kind, before, headers=dict(steward, **{"Content-Type": "text/csv"}))
        assert r.status == 200 and cli(fresh, "catalog", "list", kind) == before, kind
    assert json.loads(cli(fresh, "catalog", "list", "geometry"))["features"][0]["geometry"]["type"] == "Polygon"


def test_delete_an_indicator_that_weights_another(fresh, steward):
    docs = [{"code": "W", "name": "Weight", "periodicity": "year", "agg_space": "sum"},
            {"code": "X", "name": "Weighted", "periodicity": "year", "agg_space": "wavg", "weight": "W"}]
    assert fresh.post("/api/v1/indicators", docs, headers=steward).status == 200
    p = problem(fresh.request("DELETE", "/api/v1/indicators/W", headers=steward), 409)
    assert p["errors"][0]["message"] == "indicator W is the weight of indicator X: change that first"
    assert fresh.request("DELETE", "/api/v1/indicators/X", headers=steward).status == 204
    assert fresh.request("DELETE", "/api/v1/indicators/W", headers=steward).status == 204


def test_catalog_bad_input_changes_nothing(fresh, steward):
    before = fresh.get("/api/v1/indicators?format=csv", headers=steward).text
    js = dict(steward, **{"Content-Type": "application/json"})

    def rejected(body, headers=js, method="POST", path="/api/v1/indicators"):
        p = problem(fresh.request(method, path, body, headers=headers), 400)
        assert p["errors"]
        return [(e["path"], e["message"]) for e in p["errors"]]

    assert rejected(b'[{"code": "A", ') == [("line 1, column 15", "not valid JSON: string or '}' expected near end of file")]
    assert rejected(b"") == [("line 1", "not valid JSON: '[' or '{' expected near end of file")]
    assert rejected(b'[{"code": "A", "code": "B"}]') == [("line 1, column 21", "not valid JSON: duplicate object key near '\"code\"'")]
    assert rejected(json.dumps([dict(NEW_INDICATOR, decimals="two")])) == [("$[0].decimals", "expected an integer")]
    errs = rejected(json.dumps([NEW_INDICATOR, dict(NEW_INDICATOR, code="B", colour="green", periodicity=7)]))
    assert [e[0] for e in errs] == ["$[1].periodicity", "$[1].colour"]
    assert errs[1][1].startswith("unknown member 'colour'; the members of indicators are code, name")
    assert rejected(json.dumps([dict(NEW_INDICATOR, decimals=3000000000)])) == \
        [("$[0].decimals", "decimals 3000000000 is out of range")]
    assert rejected(b'[{"code": "H", "name": "h", "periodicity": "year", "valid_max": 1e999}]') == \
        [("line 1, column 69", "not valid JSON: real number overflow near '1e999'")]
    assert rejected(b'[{"code": "H", "name": "h", "periodicity": "year", "decimals": 123456789012345678901234}]') == \
        [("line 1, column 87", "not valid JSON: too big integer")]
    bad_utf8 = rejected(b'[{"code": "U", "name": "Ch\xe1\xbb", "periodicity": "year"}]')
    assert bad_utf8 == [("line 1, column 26", "not valid JSON: unable to decode byte 0xe1 near '\"Ch'")]
    assert rejected(json.dumps([dict(NEW_INDICATOR, owner="NOBODY")])) == [("$[0].owner", "unknown agency 'NOBODY'")]
    assert rejected(json.dumps({"orgunits": []})) == [("$", 'expected an array of objects or {"indicators": [...]}')]
    # CSV: line and column
    csv_errs = rejected("code,name,periodicity,decimals\nA,a,month,2\nB,b,fortnight,x\n",
                        headers=dict(steward, **{"Content-Type": "text/csv"}))
    assert [e[0] for e in csv_errs] == ["line 3, column 3 (periodicity)", "line 3, column 4 (decimals)"]
    assert rejected("code,name,colour\nA,a,red\n", headers=dict(steward, **{"Content-Type": "text/csv"}))[0][0] == \
        "line 1, column 3 (colour)"
    # PUT: one object, paths as written, the code of the path
    assert rejected(json.dumps({"name": "n", "periodicity": "fortnight"}), method="PUT",
                    path="/api/v1/indicators/Z")[0][0] == "$.periodicity"
    assert rejected(json.dumps({"code": "OTHER", "name": "n", "periodicity": "year"}), method="PUT",
                    path="/api/v1/indicators/Z") == [("$.code", "the code in the body must be the code of the path ('Z')")]
    assert rejected(json.dumps([NEW_INDICATOR]), method="PUT", path="/api/v1/indicators/Z") == \
        [("$", "expected one indicator as a JSON object")]
    # the wrong media type
    p = problem(fresh.post("/api/v1/indicators", "code,name", headers=dict(steward, **{"Content-Type": "text/plain"})),
                415)
    assert paths(p) == ["Content-Type"]
    assert fresh.get("/api/v1/indicators?format=csv", headers=steward).text == before
    assert [i["code"] for i in fresh.get("/api/v1/dimensions").json()["dimensions"]] == ["AGENCY"]


def test_catalog_writes_need_a_steward(fresh):
    for role in ("analyst", "reporter"):
        token = fresh.token(role, agency="DOET") if role == "reporter" else fresh.token(role)
        r = fresh.post("/api/v1/indicators", [NEW_INDICATOR], headers=bearer(token))
        assert r.status == 403, (role, r)
    assert fresh.post("/api/v1/indicators", [NEW_INDICATOR]).status in (401, 403)
    assert problem(fresh.get("/api/v1/indicators/GREEN_AREA"), 404)


# ---------------------------------------------------------------- data: writes

def test_data_post_json_and_csv(fresh, steward):
    body = [{"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-01", "value": 35},
            {"indicator": "SCHOOLS", "orgunit": "90002", "period": "2027-01", "value": 41, "status": "official"}]
    r = fresh.post("/api/v1/data", body, headers=steward)
    assert r.status == 201
    first = r.json()
    assert first["rows"] == 2 and first["inserted"] == 2 and first["revised"] == 0 and first["unchanged"] == 0
    got = fresh.get("/api/v1/data?indicator=SCHOOLS&from=2027-01&to=2027-01", headers=steward).json()["observations"]
    assert got == [{"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-01", "value": 35, "status": "provisional",
                    "revision": 1},
                   {"indicator": "SCHOOLS", "orgunit": "90002", "period": "2027-01", "value": 41, "status": "official",
                    "revision": 1}]
    # CSV: one value unchanged, one revised
    r = fresh.post("/api/v1/data", "indicator,orgunit,period,value\nSCHOOLS,90001,2027-01,35\nSCHOOLS,90002,2027-01,42\n",
                   headers=dict(steward, **{"Content-Type": "text/csv"}))
    assert r.status == 201
    second = r.json()
    assert (second["rows"], second["inserted"], second["revised"], second["unchanged"]) == (2, 0, 1, 1)
    assert second["seq"] > first["seq"]
    s = fresh.get("/api/v1/series/SCHOOLS/90002?from=2027-01", headers=steward).json()["observations"]
    assert s == [{"period": "2027-01", "value": 42, "status": "provisional", "revision": 2}]
    assert "databrain_rows_ingested_total 4" in fresh.get("/metrics").text


def test_data_post_bad_rows_are_all_listed_and_nothing_is_written(fresh, steward):
    body = [{"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-02", "value": 35},
            {"indicator": "SCHOOLS", "orgunit": "90001", "period": "2026-Q1", "value": 1},
            {"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-03", "value": -5},
            {"indicator": "NOPE", "orgunit": "90001", "period": "2027-03", "value": 1},
            {"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-04", "value": "many"}]
    p = problem(fresh.post("/api/v1/data", body, headers=steward), 400)
    assert paths(p) == ["$[1].period", "$[2].value", "$[3].indicator", "$[4].value"]
    assert p["detail"] == "the batch has 4 problems; nothing was written"
    text = "indicator,orgunit,period,value\nSCHOOLS,90001,2027-02,35\nSCHOOLS,90001,2027-02-01,1\nSCHOOLS,90001,2027-03,NaN\n"
    p = problem(fresh.post("/api/v1/data", text, headers=dict(steward, **{"Content-Type": "text/csv"})), 400)
    assert paths(p) == ["line 3, column 3 (period)", "line 4, column 4 (value)"]
    p = problem(fresh.post("/api/v1/data", b"[{]", headers=dict(steward, **{"Content-Type": "application/json"})), 400)
    assert p["errors"] == [{"path": "line 1, column 3", "message": "string or '}' expected near ']'"}]
    assert problem(fresh.post("/api/v1/data", "x", headers=dict(steward, **{"Content-Type": "text/plain"})), 415)
    got = fresh.get("/api/v1/data?indicator=SCHOOLS&from=2027-01", headers=steward).json()["observations"]
    assert got == []


def test_idempotency_key_replays_the_first_answer(fresh, steward):
    body = [{"indicator": "SCHOOLS", "orgunit": "90003", "period": "2027-01", "value": 10}]
    key = dict(steward, **{"Idempotency-Key": "batch-2027-01-90003"})
    first = fresh.post("/api/v1/data", body, headers=key)
    assert first.status == 201 and first.header("Idempotent-Replayed") is None
    again = fresh.post("/api/v1/data", body, headers=key)
    assert again.status == 201 and again.header("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    # even a different body under the same key is the same batch: not applied
    changed = fresh.post("/api/v1/data", [dict(body[0], value=99)], headers=key)
    assert changed.status == 201 and changed.json() == first.json()
    s = fresh.get("/api/v1/series/SCHOOLS/90003?from=2027-01", headers=steward).json()["observations"]
    assert s == [{"period": "2027-01", "value": 10, "status": "provisional", "revision": 1}]
    assert "databrain_rows_ingested_total 1" in fresh.get("/metrics").text
    # a rejected batch does not take its key: the corrected batch goes in under it
    bad = dict(steward, **{"Idempotency-Key": "k2"})
    assert problem(fresh.post("/api/v1/data", [dict(body[0], period="2026")], headers=bad), 400)
    assert fresh.post("/api/v1/data", [dict(body[0], period="2027-02")], headers=bad).json()["inserted"] == 1
    assert paths(problem(fresh.post("/api/v1/data", body, headers=dict(steward, **{"Idempotency-Key": "a b"})),
                         400)) == ["Idempotency-Key"]


def test_reporter_writes_own_series_in_scope(fresh):
    reporter = bearer(fresh.token("reporter", agency="DOET", scope="90001"))
    row = {"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-01", "value": 34}
    r = fresh.post("/api/v1/data", [row], headers=reporter)
    assert r.status == 201 and r.json()["inserted"] == 1
    # another ward: out of the reporter's scope
    p = problem(fresh.post("/api/v1/data", [dict(row, orgunit="90002")], headers=reporter), 403)
    assert paths(p) == ["$[0].indicator"] and "90002" in p["errors"][0]["message"]
    # an indicator of another agency (DOH's clinics), in scope
    p = problem(fresh.post("/api/v1/data", [dict(row, indicator="CLINICS")], headers=reporter), 403)
    assert paths(p) == ["$[0].indicator"] and "CLINICS" in p["errors"][0]["message"]
    # a batch with one allowed and one refused row is refused whole, the refused row listed
    p = problem(fresh.post("/api/v1/data", "indicator,orgunit,period,value\nSCHOOLS,90001,2027-02,34\n"
                                           "SCHOOLS,90003,2027-02,20\n",
                           headers=dict(reporter, **{"Content-Type": "text/csv"})), 403)
    assert paths(p) == ["line 3, column 1 (indicator)"]
    assert p["detail"] == "the caller may not write 1 of the rows (1 problem in all); nothing was written"
    assert p["errors"][0]["message"] == "not allowed to write SCHOOLS at 90003: " + p["errors"][0]["message"].split(": ", 1)[1]
    analyst = fresh.get("/api/v1/data?indicator=SCHOOLS&from=2027-01", headers=bearer(fresh.token("analyst")))
    assert [(o["orgunit"], o["period"]) for o in analyst.json()["observations"]] == [("90001", "2027-01")]
    # a reporter of the whole city writes any ward's schools
    city = bearer(fresh.token("reporter", agency="DOET"))
    assert fresh.post("/api/v1/data", [dict(row, orgunit="90002")], headers=city).status == 201
    # analysts and the public do not write data
    assert fresh.post("/api/v1/data", [row], headers=bearer(fresh.token("analyst"))).status == 403
    assert fresh.post("/api/v1/data", [row]).status in (401, 403)


def test_as_of(fresh, steward):
    cell = {"indicator": "SCHOOLS", "orgunit": "90004", "period": "2027-01"}
    assert fresh.post("/api/v1/data", [dict(cell, value=20)], headers=steward).status == 201
    time.sleep(0.05)
    between = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(0.05)
    assert fresh.post("/api/v1/data", [dict(cell, value=25)], headers=steward).json()["revised"] == 1
    q = "/api/v1/data?indicator=SCHOOLS&orgunit=90004&from=2027-01"
    now = fresh.get(q, headers=steward).json()["observations"]
    then = fresh.get(q + "&as_of=" + quote(between), headers=steward).json()["observations"]
    before = fresh.get(q + "&as_of=2020-01-01T00:00:00%2B07:00", headers=steward).json()["observations"]
    assert [(o["value"], o["revision"]) for o in now] == [(25, 2)]
    assert [(o["value"], o["revision"]) for o in then] == [(20, 1)]
    assert before == []
    s = fresh.get("/api/v1/series/SCHOOLS/90004?from=2027-01&as_of=" + quote(between), headers=steward).json()
    assert s["observations"] == [{"period": "2027-01", "value": 20, "status": "provisional", "revision": 1}]


def test_too_many_rows(fresh, steward):
    head = "indicator,orgunit,period,value\n"
    body = head + "SCHOOLS,90001,2027-01,1\n" * 1000001
    p = problem(fresh.post("/api/v1/data", body, headers=dict(steward, **{"Content-Type": "text/csv"})), 413)
    assert p["errors"][0]["message"] == "the batch has 1000001 rows; at most 1000000 are taken in one batch"
    assert fresh.get("/api/v1/data?indicator=SCHOOLS&from=2027-01", headers=steward).json()["observations"] == []


def test_data_with_dimensions(fresh, steward):
    dims = [{"code": "SEX", "name": "Giới tính", "items": [{"code": "F", "name": "Nữ"}, {"code": "M", "name": "Nam"}]}]
    assert fresh.post("/api/v1/dimensions", dims, headers=steward).json() == {"kind": "dimensions", "imported": 1}
    assert [d for d in fresh.get("/api/v1/dimensions").json()["dimensions"] if d["code"] != "AGENCY"] == dims
    assert fresh.post("/api/v1/indicators", [{"code": "TEACHERS", "name": "Số giáo viên", "periodicity": "year",
                                              "agg_space": "sum", "dimensions": "SEX", "is_public": True}],
                      headers=steward).status == 200
    r = fresh.post("/api/v1/data", "indicator,orgunit,period,value,SEX\nTEACHERS,90001,2025,120,F\n"
                                   "TEACHERS,90001,2025,30,M\n",
                   headers=dict(steward, **{"Content-Type": "text/csv"}))
    assert r.status == 201 and r.json()["inserted"] == 2
    obs = fresh.get("/api/v1/data?indicator=TEACHERS").json()["observations"]
    assert [(o["dims"], o["value"]) for o in obs] == [("SEX=F", 120), ("SEX=M", 30)]
    s = fresh.get("/api/v1/series/TEACHERS/90001?dims=SEX%3DM").json()
    assert s["dims"] == "SEX=M" and [o["value"] for o in s["observations"]] == [30]
    assert fresh.get("/api/v1/data?indicator=TEACHERS&format=csv").text == \
        "indicator,orgunit,period,value,status,SEX\nTEACHERS,90001,2025,120,provisional,F\n" \
        "TEACHERS,90001,2025,30,provisional,M\n"
