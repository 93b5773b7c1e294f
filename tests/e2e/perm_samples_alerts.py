"""Permission-matrix samples of the alert routes (routes_alerts.def), for test_permissions.py.

prepare() writes, as admin: a rule that fires on TSP at the station AQ01 and data that make it fire once per
role (seven alerts, so that each role's acknowledgement finds an alert not yet acknowledged), one rule per
role for the DELETE cells, a shared scenario and one inactive scenario per role for the activation cells,
and a shared webhook plus one per role for the DELETE cells. Readers (analyst and above) read; stewards and
admins write rules, scenarios and webhooks; leaders and admins acknowledge, assign, silence and activate."""

ROLES = ["anonymous", "public", "analyst", "reporter", "leader", "steward", "admin"]


def _scenario(code, rule_code):
    return {"code": code, "name": "Kịch bản kiểm thử " + code, "kind": "thematic",
            "panels": [{"title": "TSP", "view": "chart", "orgunit": "79", "indicators": ["TSP"]}],
            "rules": [{"code": rule_code, "condition": "TSP > 900", "for": 2, "units": ["AQ02"]}],
            "checklist": [{"step": "Kiểm tra", "who": "DAE", "when": "1h"}]}


def prepare(srv, tokens, ctx):
    admin = {"Authorization": "Bearer " + tokens["admin"]}
    r = srv.post("/api/v1/rules", {"code": "PERM_TSP", "condition": "TSP > 1000", "for": 1, "units": ["AQ01"]},
                 headers=admin)
    assert r.status == 201, r
    rows = ["indicator,orgunit,period,value"]
    for k in range(len(ROLES)):  # fires at hour 2k, resolves at 2k + 1
        rows += ["TSP,AQ01,2021-08-01T%02d:00,1500" % (2 * k), "TSP,AQ01,2021-08-01T%02d:00,10" % (2 * k + 1)]
    r = srv.post("/api/v1/data", "\n".join(rows) + "\n", headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert r.status == 201, r
    alerts = srv.get("/api/v1/alerts?rule=PERM_TSP", headers=admin).json()["alerts"]
    assert len(alerts) == len(ROLES)
    ctx["alert"] = {role: a["id"] for role, a in zip(ROLES, alerts)}
    for role in ROLES:
        r = srv.post("/api/v1/rules", {"code": "PERM_DEL_" + role, "condition": "TSP > 1", "units": ["AQ01"]},
                     headers=admin)
        assert r.status == 201, r
        r = srv.post("/api/v1/scenarios", _scenario("PERM_ACT_" + role, "PERM_ACT_R_" + role), headers=admin)
        assert r.status == 201, r
    assert srv.post("/api/v1/scenarios", _scenario("PERM_SC", "PERM_SC_R"), headers=admin).status == 201
    hook = srv.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/perm", "events": ["scenario.*"]}, headers=admin)
    assert hook.status == 201, hook
    ctx["webhook"] = hook.json()["id"]
    ctx["webhook_del"] = {}
    for role in ROLES:
        r = srv.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/" + role}, headers=admin)
        ctx["webhook_del"][role] = r.json()["id"]


def samples(role, ctx):
    alert = ctx.get("alert", {}).get(role, 1)
    shared = ctx.get("alert", {}).get("admin", 1)
    hook = ctx.get("webhook", 1)
    hook_del = ctx.get("webhook_del", {}).get(role, 1)
    rule = {"code": "PERM_NEW_" + role, "condition": "TSP > 2000", "for": "10m", "units": ["AQ01", "79"]}
    overlay = {"overlay": [{"indicator": "TSP", "orgunit": "AQ02", "period": "2030-01-01T0%d:00" % h, "value": 950}
                           for h in range(3)]}
    return {
        ("GET", "/api/v1/rules"): ("/api/v1/rules", None, 200),
        ("POST", "/api/v1/rules"): ("/api/v1/rules", rule, 201),
        ("GET", "/api/v1/rules/{code}"): ("/api/v1/rules/PERM_TSP", None, 200),
        ("DELETE", "/api/v1/rules/{code}"): ("/api/v1/rules/PERM_DEL_" + role, None, 204),
        ("GET", "/api/v1/alerts"): ("/api/v1/alerts?rule=PERM_TSP", None, 200),
        ("GET", "/api/v1/alerts/{id}"): ("/api/v1/alerts/%d" % shared, None, 200),
        ("POST", "/api/v1/alerts/{id}/acknowledge"): ("/api/v1/alerts/%d/acknowledge" % alert, {"note": role}, 200),
        ("POST", "/api/v1/alerts/{id}/assign"): ("/api/v1/alerts/%d/assign" % shared,
                                                 {"agency": "DAE", "deadline": "3d"}, 201),
        ("POST", "/api/v1/alerts/{id}/silence"): ("/api/v1/alerts/%d/silence" % shared,
                                                  {"duration": "1h", "reason": "kiểm thử"}, 201),
        ("GET", "/api/v1/scenarios"): ("/api/v1/scenarios", None, 200),
        ("POST", "/api/v1/scenarios"): ("/api/v1/scenarios", _scenario("PERM_NEW_" + role, "PERM_NEW_R_" + role), 201),
        ("GET", "/api/v1/scenarios/{id}"): ("/api/v1/scenarios/PERM_SC", None, 200),
        ("POST", "/api/v1/scenarios/{id}/activate"): ("/api/v1/scenarios/PERM_ACT_" + role + "/activate", {}, 200),
        ("POST", "/api/v1/scenarios/{id}/simulate"): ("/api/v1/scenarios/PERM_SC/simulate", overlay, 200),
        ("GET", "/api/v1/scenarios/{id}/report"): ("/api/v1/scenarios/PERM_SC/report", None, 200),
        ("GET", "/api/v1/webhooks"): ("/api/v1/webhooks", None, 200),
        ("POST", "/api/v1/webhooks"): ("/api/v1/webhooks", {"url": "https://example.org/" + role}, 201),
        ("DELETE", "/api/v1/webhooks/{id}"): ("/api/v1/webhooks/%d" % hook_del, None, 204),
        ("GET", "/api/v1/webhooks/{id}/deliveries"): ("/api/v1/webhooks/%d/deliveries" % hook, None, 200),
        ("GET", "/api/v1/events"): ("/api/v1/events?format=json&after=0&limit=10", None, 200),
    }
