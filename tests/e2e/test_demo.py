"""The demo city through the real binary: the synthetic city without a pack, and the real Ho Chi Minh
City pack answering real questions, checked against the pack's own files computed here independently."""
import csv
import os
import statistics
from collections import defaultdict

import pytest


def units(db):
    return {r["code"]: r for r in csv.DictReader(db.ok("catalog", "list", "orgunits").splitlines())}


def test_synthetic_city_without_pack(db):
    out = db.ok("demo")
    assert "demo city loaded from the generator" in out
    u = units(db)
    current = [r for r in u.values() if r["parent"] == "79" and r["kind"] in ("ward", "commune", "special_zone")
               and not r["valid_to"]]
    assert len(current) == 168
    codes = {r["code"] for r in csv.DictReader(db.ok("catalog", "list", "indicators").splitlines())}
    for code in ("CPI_YOY", "CPI_MOM", "CORE_INFL_YOY", "GOLD_PRICE_YOY", "USD_PRICE_YOY", "IIP_YOY", "RETAIL_SALES",
                 "EXPORTS", "IMPORTS", "FDI_REG", "BUDGET_INVEST", "GDP_USD", "POP", "INFL_CPI", "PM25", "NO2", "O3",
                 "CO", "SO2", "RAIN_MM", "COVID_NEW", "COVID_DEATHS", "POPULATION", "AREA_KM2"):
        assert code in codes, code
    assert "synthetic" in db.ok("catalog", "show", "CPI_YOY")
    assert len(db.csv("query", "series", "CPI_YOY", "VN")) > 12


@pytest.fixture(scope="module")
def city(tmp_path_factory, shared):
    from conftest import Databrain
    d = Databrain(str(tmp_path_factory.mktemp("demo")))
    d.ok("demo", "--pack", os.path.join(shared, "data"))
    return d


def test_real_units(city, shared):
    u = units(city)
    new = [r for r in u.values() if r["parent"] == "79" and not r["valid_to"] and r["kind"] != "site"]
    kinds = defaultdict(int)
    for r in new:
        kinds[r["kind"]] += 1
    assert dict(kinds) == {"ward": 113, "commune": 54, "special_zone": 1}
    assert u["79"]["parent"] == "VN"
    legacy = [r for r in u.values() if r["valid_to"] == "2025-06-30"]
    assert len(legacy) >= 441
    successions = list(csv.DictReader(city.ok("catalog", "list", "successions").splitlines()))
    assert len(successions) >= 441
    # every 2025 unit of the city has a geometry, a population and an area
    geo = city.ok("catalog", "list", "geometry")
    assert geo.count('"Feature"') >= 168
    pops = {r["orgunit"]: float(r["value"]) for r in city.csv("query", "cross", "POPULATION", "2025", "--parent", "79")[1:]
            for r in [dict(zip(["orgunit", "name", "value"], r))]}
    with open(os.path.join(shared, "data/admin_units/hcmc_communes_2025-07-01.csv"), encoding="utf-8") as f:
        expected = {r["commune_code"]: float(r["population_bando"]) for r in csv.DictReader(f) if r["population_bando"]}
    assert len(expected) >= 160
    for code, pop in expected.items():
        assert pops[code] == pop, code


def test_cpi_year_on_year_december_2024(city, shared):
    with open(os.path.join(shared, "data/macro/gso_monthly_national/cpi.csv"), encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Hàng hóa"] == "CHỈ SỐ GIÁ TIÊU DÙNG" and r["Date"].startswith("2024-12")]
    assert len(rows) == 1
    series = city.csv("query", "series", "CPI_YOY", "VN", "--from", "2024-12", "--to", "2024-12")
    assert series[1][0] == "2024-12"
    assert float(series[1][1]) == pytest.approx(float(rows[0]["YOY"]), abs=0.005)


def test_daily_mean_pm25_at_a_station(city, shared):
    hourly = defaultdict(list)
    with open(os.path.join(shared, "data/city_ops/hcmc_air_quality_healthyair_hourly_2021-2022.csv")) as f:
        for r in csv.DictReader(f):
            if r["Station_No"] == "1" and r["PM2.5"] not in ("", "nan", "NaN"):
                d, m, rest = r["date"].split("-", 2)
                hourly["%s-%s-%s" % (rest[:4], m, d)].append(float(r["PM2.5"]))
    got = {row[0]: (float(row[1]), int(row[2])) for row in city.csv("query", "rollup", "PM25", "AQ01", "--by", "day")[1:]}
    for day in ("2021-03-01", "2021-06-15", "2022-01-10"):
        assert got[day][1] == len(hourly[day])
        assert got[day][0] == pytest.approx(statistics.mean(hourly[day]), abs=0.05)


def test_thirty_indicators_with_real_data(city):
    inds = list(csv.DictReader(city.ok("catalog", "list", "indicators").splitlines()))
    real = [i for i in inds if i["synthetic"] == "0"]
    exported = {row[0] for row in city.csv("export")[1:]}
    with_data = [i["code"] for i in real if i["code"] in exported]
    assert len(with_data) >= 30


def test_rollup_counts_the_units_that_existed(city):
    """Wards of 2025 roll up to the city with 168 of 168 units expected; the hourly PM2.5 of 2021 comes
    from the sensor sites, so only sites are expected."""
    waste = {r[0]: r for r in city.csv("query", "rollup", "WASTE_COLLECTED", "79")[1:]}
    assert waste["2025-08"][2:] == ["168", "168"]
    pm = city.csv("query", "rollup", "PM25", "79", "--from", "2021-03-01T00:00", "--to", "2021-03-01T00:00")
    assert pm[1][0] == "2021-03-01T00:00" and int(pm[1][2]) <= int(pm[1][3]) == 7
