"""Data supply and quality against the real server: a simulated run of daily submissions by two agencies
over HTTP (each with a reporter token of its own), whose completeness, timeliness, validity, scores and
ranks are computed by hand below; validation rules that open a violation on a bad POST and resolve it on the
fix; approval that locks a value (a change without X-Change-Reason is refused and writes nothing, with one
it is a revision, and the audit trail names who approved and who revised); CSV outputs; the scores stored as
indicators; and the command line (`quality report|violations|outliers|check-units|obligations|rules`,
`approve`, `calendar import|list`).

Time: the server stamps each batch with the time it arrived, so the scenario is laid out around today D
(city time, UTC+7): the obligations cover the days D-6 .. D-1 with a deadline of 3 calendar days, so that
what is posted now is late for D-6 .. D-4 (by 3, 2 and 1 days) and on time for D-3 .. D-1; the figures are
read as of D+5 (as_of), when every deadline has passed."""
import csv
import datetime
import io
import os
import time

import pytest

from server import Server, make_store, run_cli

CITY = datetime.timezone(datetime.timedelta(hours=7))
WARDS = ["W1", "W2", "W3"]

ORGUNITS = """code,name,kind,parent
79,Thành phố Hồ Chí Minh,city,
W1,Phường Một,ward,79
W2,Phường Hai,ward,79
W3,Phường Ba,ward,79
ST1,Trạm quan trắc,site,79
"""
AGENCIES = """code,name,kind,orgunit
AG1,Sở Một,department,79
AG2,Sở Hai,department,79
"""
INDICATORS = """code,name,periodicity,agg_space,agg_time,owner,groups
IND_A,Chỉ tiêu A,day,sum,sum,AG1,grp_a
IND_B,Chỉ tiêu B,day,sum,sum,AG2,grp_b
IND_B_PART,Một phần của B,day,sum,sum,AG2,grp_b
"""


def day(offset):
    return (datetime.datetime.now(CITY).date() + datetime.timedelta(days=offset)).isoformat()


def as_of(offset, url=True):
    """Noon of day D+offset in the city, escaped for a query string unless url is False."""
    return day(offset) + ("T12:00:00%2B07:00" if url else "T12:00:00+07:00")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("quality"))
    store = make_store(folder)
    for kind, text in (("orgunits", ORGUNITS), ("agencies", AGENCIES), ("indicators", INDICATORS)):
        path = os.path.join(folder, kind + ".csv")
        with open(path, "w") as f:
            f.write(text)
        run_cli(store, "catalog", "import", kind, path)
    with Server(store) as srv:
        tokens = {"steward": srv.token("steward"), "admin": srv.token("admin"), "analyst": srv.token("analyst"),
                  "AG1": srv.token("reporter", agency="AG1"), "AG2": srv.token("reporter", agency="AG2")}
        h = {k: {"Authorization": "Bearer " + v} for k, v in tokens.items()}
        names = {k: srv.get("/api/v1/me", headers=v).json()["name"] for k, v in h.items()}
        yield srv, h, names, folder
        # the day may change while the module runs (midnight in the city): the figures would shift by a day
        assert day(0) == CITY_DAY[0], "the city's day changed during the test; run it again"


CITY_DAY = [day(0)]


def obs(indicator, unit, offset, value):
    return {"indicator": indicator, "orgunit": unit, "period": day(offset), "value": value}


def figures(srv, h, path):
    r = srv.get(path, headers=h)
    assert r.status == 200, r
    return r.json()


def test_month_of_submissions(city):
    srv, h, names, _ = city
    obligations = [
        {"code": "OB_A", "name": "A theo phường", "agency": "AG1", "indicators": ["IND_A"], "orgunit": "79",
         "children": True, "deadline": "3 days", "from": day(-6), "to": day(-1)},
        {"code": "OB_B", "name": "B theo phường", "agency": "AG2", "indicators": ["IND_B", "IND_B_PART"],
         "orgunit": "79", "children": True, "deadline": "3 days", "from": day(-6), "to": day(-1)},
    ]
    # bad definitions: every problem listed by JSON path, nothing written
    bad = [dict(obligations[0], agency="NOPE", deadline="soon"), dict(obligations[1], indicators=["IND_X"])]
    r = srv.post("/api/v1/quality/obligations", bad, headers=h["steward"])
    paths = sorted(e["path"] for e in r.problem()["errors"])
    assert r.status == 400 and paths == ["$[0].agency", "$[0].deadline", "$[1].indicators"], r.json()
    assert srv.get("/api/v1/quality/obligations", headers=h["analyst"]).json()["obligations"] == []
    assert srv.post("/api/v1/quality/obligations", obligations, headers=h["steward"]).status == 200
    rule = {"code": "PART_LE_WHOLE", "name": "B_PART <= B", "formula": "IND_B_PART <= IND_B", "importance": "error"}
    assert srv.post("/api/v1/quality/rules", [rule], headers=h["steward"]).status == 200

    # AG1: every ward for D-3 .. D-1 (on time), W1 and W2 for D-5 and D-4 (late), nothing for D-6 nor W3's late days
    rows = [obs("IND_A", w, d, 10 + i) for i, w in enumerate(WARDS) for d in (-3, -2, -1)]
    rows += [obs("IND_A", w, d, 20) for w in ("W1", "W2") for d in (-5, -4)]
    assert srv.post("/api/v1/data", rows, headers=h["AG1"]).status == 201
    # a reporter cannot write another agency's indicator
    assert srv.post("/api/v1/data", [obs("IND_B", "W1", -1, 1)], headers=h["AG1"]).status == 403
    # AG2: everything, with one invalid pair (the part above the whole at W2 on D-1)
    rows = [obs(ind, w, d, 40 if ind == "IND_B" else 30) for ind in ("IND_B", "IND_B_PART") for w in WARDS
            for d in range(-6, 0)]
    rows = [dict(r, value=50) if (r["indicator"], r["orgunit"], r["period"]) == ("IND_B_PART", "W2", day(-1)) else r
            for r in rows]
    assert srv.post("/api/v1/data", rows, headers=h["AG2"]).status == 201

    v = figures(srv, h["analyst"], "/api/v1/quality/violations")["violations"]
    assert [(x["rule"], x["orgunit"], x["period"], x["importance"]) for x in v] == \
        [("PART_LE_WHOLE", "W2", day(-1), "error")]
    assert sorted((o["indicator"], o["value"]) for o in v[0]["observations"]) == [("IND_B", 40), ("IND_B_PART", 50)]

    # by hand, as of D+5 (every deadline passed):
    # AG1: expected 6 days x 3 wards = 18; received 9 on time + 4 late = 13; missing 5; late days 2+2+1+1 = 6
    #      completeness 13/18 = 0.7222, timeliness 9/18 = 0.5, validity 13/13 = 1, score 100 x 2.2222/3 = 74.07
    # AG2: expected 6 x 3 x 2 = 36, all received; on time 18 (D-3..D-1), late 18 (by 3, 2, 1: 6 cells each,
    #      36 days); invalid 2 (both inputs of the violation); validity 34/36 = 0.9444,
    #      score 100 x (1 + 0.5 + 0.9444)/3 = 81.48 -> rank 1
    q = "/api/v1/quality/completeness?by=agency&as_of=" + as_of(5)
    got = {r["key"]: r for r in figures(srv, h["analyst"], q)["rows"]}
    keep = ("expected", "received", "on_time", "late", "missing", "invalid", "pending", "completeness",
            "timeliness", "validity", "score", "rank")
    assert {k: [got[k][f] for f in keep] for k in got} == {
        "AG1": [18, 13, 9, 4, 5, 0, 0, 0.7222, 0.5, 1.0, 74.07, 2],
        "AG2": [36, 36, 18, 18, 0, 2, 0, 1.0, 0.5, 0.9444, 81.48, 1],
    }
    # the same by ward: W1 = AG1 6 + AG2 12 = 18 cells; W1 and W2 miss D-6 of AG1, W3 misses D-6, D-5, D-4
    got = {r["key"]: r for r in figures(srv, h["analyst"], q.replace("by=agency", "by=orgunit"))["rows"]}
    assert sorted(got) == ["W1", "W2", "W3"]  # the station is no ward: it owes nothing
    assert [(got[w]["expected"], got[w]["received"], got[w]["on_time"], got[w]["missing"], got[w]["invalid"])
            for w in WARDS] == [(18, 17, 9, 1, 0), (18, 17, 9, 1, 2), (18, 15, 9, 3, 0)]
    # the late submissions, with their deadlines and days late
    late = figures(srv, h["analyst"], "/api/v1/quality/timeliness?status=late&agency=AG1&as_of=" + as_of(5))
    assert sorted((s["orgunit"], s["period"], s["deadline"], s["days_late"]) for s in late["submissions"]) == sorted(
        (w, day(d), day(d + 3), -d - 3) for w in ("W1", "W2") for d in (-5, -4))
    # as of now, the cells of D-3 .. D-1 are not owed yet: AG1 owes 9 cells (D-6 .. D-4), 4 received late
    now = {r["key"]: r for r in figures(srv, h["analyst"], "/api/v1/quality/completeness")["rows"]}
    assert [now["AG1"][f] for f in ("expected", "received", "late", "missing", "pending")] == [9, 4, 4, 5, 9]
    # the reminder view: what AG1 still owes
    rem = figures(srv, h["analyst"], "/api/v1/quality/reminders?agency=AG1")
    assert rem["n_overdue"] == 5 and rem["n_due"] == 0
    assert sorted((s["orgunit"], s["period"]) for s in rem["overdue"]) == sorted(
        [(w, day(-6)) for w in WARDS] + [("W3", day(-5)), ("W3", day(-4))])

    # CSV: the same rows
    r = srv.get(q + "&format=csv", headers=h["analyst"])
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [(t["key"], t["expected"], t["completeness"], t["score"], t["rank"]) for t in table] == \
        [("AG1", "18", "0.7222", "74.07", "2"), ("AG2", "36", "1", "81.48", "1")]

    # the fix resolves the violation, and validity is whole again
    assert srv.post("/api/v1/data", [obs("IND_B_PART", "W2", -1, 30)], headers=h["AG2"]).status == 201
    assert figures(srv, h["analyst"], "/api/v1/quality/violations")["violations"] == []
    v = figures(srv, h["analyst"], "/api/v1/quality/violations?status=resolved")["violations"]
    assert [(x["rule"], x["orgunit"], x["status"]) for x in v] == [("PART_LE_WHOLE", "W2", "resolved")]
    got = {r["key"]: r for r in figures(srv, h["analyst"], q)["rows"]}
    assert (got["AG2"]["invalid"], got["AG2"]["validity"], got["AG2"]["score"], got["AG2"]["on_time"]) == \
        (0, 1.0, 83.33, 18)  # the revision keeps the first arrival's time


def month_scores(agency_cells):
    """Hand model of the stored scores: per month of the owed cells, 100 x (completeness + timeliness +
    validity) / 3 rounded to 2 decimals (every owed cell here is late or missing, so timeliness is 0)."""
    out = {}
    for period, received in agency_cells:
        m = period[:7]
        e, r = out.get(m, (0, 0))
        out[m] = (e + 1, r + received)
    return {m: round(100 * (r / e + 0 + (1 if r else 0)) / 3, 2) for m, (e, r) in out.items()}


def test_scores_stored_as_indicators(city):
    srv, h, _, _ = city
    # as of now the owed cells are those of D-6 .. D-4: AG1 received W1, W2 of D-5 and D-4 (late), AG2 all (late)
    ag1 = [(day(d), w in ("W1", "W2") and d != -6) for w in WARDS for d in (-6, -5, -4)]
    ag2 = [(day(d), True) for w in WARDS for d in (-6, -5, -4) for _ in range(2)]
    want = {("AG1", m): s for m, s in month_scores(ag1).items()}
    want.update({("AG2", m): s for m, s in month_scores(ag2).items()})
    deadline = time.time() + 30
    while True:
        r = srv.get("/api/v1/data?indicator=DQ_SCORE&orgunit=79", headers=h["analyst"])
        got = {}
        if r.status == 200:
            for o in r.json().get("observations", []):
                got[(o.get("dims", "").replace("AGENCY=", ""), o["period"])] = o["value"]
        if all(got.get(k) == v for k, v in want.items()) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert {k: got.get(k) for k in want} == want
    # per ward too (no dimension): W3 owes 9 cells (AG1 3, AG2 6) and received the 6 of AG2
    r = srv.get("/api/v1/data?indicator=DQ_COMPLETENESS&orgunit=W3", headers=h["analyst"]).json()["observations"]
    w3 = [(day(d), True) for d in (-6, -5, -4) for _ in range(2)] + [(day(d), False) for d in (-6, -5, -4)]
    per_month = {}
    for p, rcv in w3:
        e, n = per_month.get(p[:7], (0, 0))
        per_month[p[:7]] = (e + 1, n + rcv)
    assert {o["period"]: o["value"] for o in r} == {m: round(100 * n / e, 2) for m, (e, n) in per_month.items()}


def test_approval_locks_and_audit(city):
    srv, h, names, _ = city
    cell = obs("IND_A", "W1", -1, 10)
    r = srv.post("/api/v1/approvals", {"group": "grp_a", "orgunit": "W1", "period": day(-1), "note": "checked"},
                 headers=h["AG1"])
    assert r.status == 403  # a reporter does not approve
    # a body that is not a JSON object, or not JSON, is refused with where and why; nothing is approved
    r = srv.post("/api/v1/approvals", "group=grp_a", headers={**h["steward"], "Content-Type": "text/plain"})
    assert (r.status, r.problem()["errors"][0]["path"]) == (415, "Content-Type")
    r = srv.post("/api/v1/approvals", [], headers=h["steward"])
    assert (r.status, r.problem()["errors"]) == (400, [{"path": "$", "message": "the body must be a JSON object"}])
    r = srv.post("/api/v1/approvals", '{"group": "grp_a",', headers={**h["steward"], "Content-Type": "application/json"})
    assert r.status == 400 and r.problem()["errors"][0]["message"].startswith("the body is not JSON")
    assert srv.get("/api/v1/approvals", headers=h["steward"]).json()["approvals"] == []
    r = srv.post("/api/v1/approvals", {"group": "grp_a", "orgunit": "W1", "period": day(-1), "note": "checked"},
                 headers=h["steward"])
    assert r.status == 201 and (r.json()["cells"], r.json()["changed"]) == (1, 1), r
    # a change without a reason is refused and nothing is written
    r = srv.post("/api/v1/data", [dict(cell, value=11), obs("IND_A", "W2", -1, 99)], headers=h["AG1"])
    assert r.status == 400, r
    assert "approved" in r.problem()["errors"][0]["message"]
    series = srv.get("/api/v1/series/IND_A/W1", headers=h["analyst"]).json()
    point = [p for p in series["observations"] if p["period"] == day(-1)][0]
    assert (point["value"], point["status"]) == (10, "official")
    w2 = srv.get("/api/v1/series/IND_A/W2", headers=h["analyst"]).json()["observations"]
    assert [p["value"] for p in w2 if p["period"] == day(-1)] == [11]  # the other row was not written either
    # the same row is accepted with a reason: a revision
    r = srv.post("/api/v1/data", [dict(cell, value=11)], headers=dict(h["AG1"], **{"X-Change-Reason": "typo in ward report"}))
    assert r.status == 201, r
    point = [p for p in srv.get("/api/v1/series/IND_A/W1", headers=h["analyst"]).json()["observations"]
             if p["period"] == day(-1)][0]
    assert point["value"] == 11 and point["revision"] == 3  # first value, official copy, the change
    audit = srv.get("/api/v1/audit", headers=h["admin"]).json()
    records = audit.get("records", audit.get("audit", []))
    approve = [a for a in records if a["action"] == "quality.approve"]
    revise = [a for a in records if a["action"] == "data.revise_approved"]
    assert [a["actor"] for a in approve] == [names["steward"]]
    assert [a["actor"] for a in revise] == [names["AG1"]]
    assert "typo in ward report" in str(revise[0].get("detail"))
    listed = figures(srv, h["analyst"], "/api/v1/approvals")["approvals"]
    assert [(a["group"], a["orgunit"], a["period"], a["cells"]) for a in listed] == [("grp_a", "W1", day(-1), 1)]


def test_command_line(city, shared):
    srv, h, names, folder = city
    store = srv.store
    # the report equals the API's figures
    out = run_cli(store, "quality", "report", "--by", "agency", "--as-of", as_of(5, url=False), "--csv").stdout
    table = list(csv.DictReader(io.StringIO(out)))
    assert [(t["agency"], t["expected"], t["received"], t["on_time"], t["missing"], t["score"], t["rank"])
            for t in table] == [("AG1", "18", "13", "9", "5", "74.07", "2"), ("AG2", "36", "36", "18", "0", "83.33", "1")]
    out = run_cli(store, "quality", "report", "--agency", "AG1", "--list", "overdue", "--csv").stdout
    assert sorted((t["orgunit"], t["period"]) for t in csv.DictReader(io.StringIO(out))) == sorted(
        [(w, day(-6)) for w in WARDS] + [("W3", day(-5)), ("W3", day(-4))])
    assert run_cli(store, "quality", "report", "--by", "sideways", check=False).returncode == 2
    assert run_cli(store, "quality", "report", "--agency", "NOPE", check=False).returncode == 4
    # obligations from a CSV file with errors: every problem with its line, nothing written (exit 3)
    path = os.path.join(folder, "bad_obligations.csv")
    with open(path, "w") as f:
        f.write("code,name,agency,indicators,orgunit,children,deadline,from,to\n"
                "OB_C,C,AG1,IND_A,79,yes,3 days,%s,%s\n"
                "OB_D,D,AG9,IND_A;IND_Q,79,maybe,3 days,%s,\n" % (day(-2), day(-1), day(-2)))
    p = run_cli(store, "quality", "obligations", "import", path, check=False)
    assert p.returncode == 3 and "line 3" in p.stderr and "nothing was written" in p.stderr, p.stderr
    assert [o["code"] for o in srv.get("/api/v1/quality/obligations", headers=h["analyst"]).json()["obligations"]] \
        == ["OB_A", "OB_B"]
    # rules from the command line are judged at once: IND_A < 20 fails where 20 was posted
    path = os.path.join(folder, "rules.csv")
    with open(path, "w") as f:
        f.write("code,name,formula,tolerance,importance,enabled\nA_SMALL,A under 20,IND_A < 20,0,warning,yes\n")
    out = run_cli(store, "quality", "rules", "import", path).stdout
    assert "rule A_SMALL: " in out and "4 violations opened" in out, out  # the four values of 20 (W1, W2 x D-5, D-4)
    out = run_cli(store, "quality", "violations", "--rule", "A_SMALL", "--csv").stdout
    assert sorted((t["orgunit"], t["period"]) for t in csv.DictReader(io.StringIO(out))) == sorted(
        (w, day(d)) for w in ("W1", "W2") for d in (-5, -4))
    # approve from the command line
    out = run_cli(store, "approve", "--group", "grp_b", "--unit", "W3", "--period", day(-2)).stdout
    assert "2 values official and locked" in out
    assert run_cli(store, "approve", "--group", "nope", "--unit", "W3", "--period", day(-2), check=False).returncode == 3
    # the calendar
    cal = os.path.join(os.path.dirname(__file__), "../../data/calendar/vn_holidays.csv")
    assert "days imported" in run_cli(store, "calendar", "import", cal).stdout
    out = run_cli(store, "calendar", "list", "--year", "2025", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert ("2025-09-02", "holiday") in [(r["date"], r["kind"]) for r in rows]
    assert all(r["date"].startswith("2025") for r in rows)
    with open(os.path.join(folder, "bad_calendar.csv"), "w") as f:
        f.write("date,kind,name\n2025-02-30,holiday,x\n")
    assert run_cli(store, "calendar", "import", os.path.join(folder, "bad_calendar.csv"), check=False).returncode == 3
    # outliers: flags only, nothing changes
    out = run_cli(store, "quality", "outliers", "IND_A", "--csv").stdout
    assert out.splitlines()[0] == "indicator,orgunit,dims,period,value,z"
    # the unit attributes of the 2025 units: the two HCMC areas about 1000 times too large, the missing populations
    bando = os.path.join(shared, "data/admin_units/vn_communes_2025_bando_area_population.csv")
    p = run_cli(store, "quality", "check-units", bando, "--csv", check=False)
    assert p.returncode == 3, p.stderr
    found = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [(f["code"], f["attribute"]) for f in found if f["province"] == "79"] == \
        [("25750", "area_km2"), ("25849", "area_km2")]
    assert sorted(f["code"] for f in found if f["attribute"] == "population") == ["06994", "20333"]
    # the same checks warn (and do not refuse) on `catalog import orgunits`
    units = os.path.join(folder, "units_with_attributes.csv")
    with open(units, "w") as f:
        f.write("code,name,kind,parent,area_km2,population\n")
        for k in range(10):
            area = 2.0 + 0.35 * k if k else 3100  # U0: 3.1 km² with its decimal point lost
            f.write("U%d,Phường U%d,ward,79,%s,%d\n" % (k, k, area, 40000 + 2500 * k))
    p = run_cli(store, "catalog", "import", "orgunits", units)
    assert "warning: org unit Phường U0 (U0): area 3100 km² is far too large" in p.stderr, p.stderr
