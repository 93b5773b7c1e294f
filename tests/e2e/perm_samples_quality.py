"""Permission-matrix samples of the data quality routes (routes_quality.def). prepare() makes an indicator
of its own group (PERM_QUALITY, group perm_quality) with one value at the ward, so that the approval cell
locks only that value, and every sample rewrites what the store already holds (an obligation, a rule and a
holiday upserted by code or date; an approval of the same values again)."""

OBLIGATION = {"code": "PERM_OB", "agency": "DAE", "indicators": ["WASTE_COLLECTED"], "orgunit": "79",
              "children": True, "deadline": "5 working days", "from": "2025-07", "to": "2025-09"}
RULE = {"code": "PERM_RULE", "formula": "WASTE_COLLECTED >= 0", "importance": "info"}
UNITS_CSV = "commune_code,commune_name,province_code,area_km2,population\n90001,Phường A,79,2.5,40000\n"


def prepare(srv, tokens, ctx):
    steward = {"Authorization": "Bearer " + tokens["steward"]}
    indicator = {"code": "PERM_QUALITY", "name": "Approval probe", "periodicity": "month", "agg_space": "sum",
                 "groups": "perm_quality"}
    assert srv.post("/api/v1/indicators", [indicator], headers=steward).status == 200
    row = {"indicator": "PERM_QUALITY", "orgunit": ctx["ward"], "period": "2025-08", "value": 7}
    r = srv.post("/api/v1/data", [row], headers=steward)
    assert r.status == 201, r


def samples(role, ctx):
    ward = ctx["ward"]
    return {
        ("GET", "/api/v1/quality/completeness"): ("/api/v1/quality/completeness?by=orgunit", None, 200),
        ("GET", "/api/v1/quality/timeliness"): ("/api/v1/quality/timeliness?status=overdue", None, 200),
        ("GET", "/api/v1/quality/violations"): ("/api/v1/quality/violations?status=all", None, 200),
        ("GET", "/api/v1/quality/outliers"): ("/api/v1/quality/outliers?indicator=WASTE_COLLECTED&children_of=79",
                                              None, 200),
        ("GET", "/api/v1/quality/scorecards"): ("/api/v1/quality/scorecards", None, 200),
        ("GET", "/api/v1/quality/reminders"): ("/api/v1/quality/reminders?agency=DAE", None, 200),
        ("GET", "/api/v1/quality/obligations"): ("/api/v1/quality/obligations", None, 200),
        ("POST", "/api/v1/quality/obligations"): ("/api/v1/quality/obligations", [OBLIGATION], 200),
        ("GET", "/api/v1/quality/rules"): ("/api/v1/quality/rules", None, 200),
        ("POST", "/api/v1/quality/rules"): ("/api/v1/quality/rules", [RULE], 200),
        ("POST", "/api/v1/quality/unit-checks"): ("/api/v1/quality/unit-checks", UNITS_CSV, 200),
        ("GET", "/api/v1/approvals"): ("/api/v1/approvals", None, 200),
        ("POST", "/api/v1/approvals"): ("/api/v1/approvals", {"group": "perm_quality", "orgunit": ward,
                                                              "period": "2025-08", "note": "matrix"}, 201),
        ("GET", "/api/v1/calendar"): ("/api/v1/calendar?year=2025", None, 200),
        ("POST", "/api/v1/calendar"): ("/api/v1/calendar", {"days": [{"date": "2025-09-02", "kind": "holiday",
                                                                      "name": "Quốc khánh"}]}, 200),
    }
