"""Alert rules, scenarios, the event stream and webhooks, end to end against the real server.

- The air-pollution scenario (data/scenarios/air_pollution.json) replayed on the real hourly PM2.5 of the
  six HealthyAir stations (../shared/data/city_ops/hcmc_air_quality_healthyair_hourly_2021-2022.csv),
  posted day by day through POST /api/v1/data: the alerts the server records are exactly those an
  independent computation over the same CSV predicts (the state machine written again here, in Python),
  with their pending, firing and resolved (or cleared) hours; a simulation replaying the whole window
  predicts the same alerts again.
- A webhook receiver (a real HTTP server on 127.0.0.1) checks every signature, is down while alerts fire,
  and still receives every event exactly once, by id, after databrain restarts and the receiver comes back.
- The event stream: filters, Last-Event-ID, heartbeats; acknowledgement, assignment (a task), silences,
  inhibition, scenario activation, what-if simulation with no side effect, the after-action report, and
  every problem of a bad rule or scenario listed with its JSON path."""
import collections
import csv
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import threading
import time

import pytest

from server import Server, free_port, make_store, run_cli

HERE = os.path.dirname(__file__)
SHARED = os.environ.get("DB_SHARED_DIR") or os.path.join(HERE, "../../../shared")
AIR_CSV = os.path.join(SHARED, "data/city_ops/hcmc_air_quality_healthyair_hourly_2021-2022.csv")
SCENARIOS = os.path.join(HERE, "../../data/scenarios")
STATIONS = ["AQ%02d" % i for i in range(1, 7)]
EPOCH = datetime.datetime(1970, 1, 1)


def hour_of(text):
    """'dd-mm-YYYY HH:MM' -> hours since 1970-01-01T00:00 (civil)."""
    t = datetime.datetime.strptime(text, "%d-%m-%Y %H:%M")
    return int((t - EPOCH).total_seconds()) // 3600


def code_of(hour):
    return (EPOCH + datetime.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M")


def load_air():
    """{day: [(station, hour, value)...]} in day order, and {(unit, hour): value} with the city average."""
    days = collections.OrderedDict()
    values = {}
    with open(AIR_CSV, newline="") as f:
        for r in csv.DictReader(f):
            station, hour, value = "AQ%02d" % int(r["Station_No"]), hour_of(r["date"]), float(r["PM2.5"])
            days.setdefault(r["date"][6:10] + r["date"][3:5] + r["date"][0:2], []).append((station, hour, value))
            values[(station, hour)] = value
    by_hour = collections.defaultdict(list)
    for (station, hour), v in values.items():
        by_hour[hour].append(v)
    for hour, vs in by_hour.items():
        values[("79", hour)] = sum(vs) / len(vs)
    return collections.OrderedDict(sorted(days.items())), values


def machine(hours, holds, for_n, keep):
    """The alert state machine over the judged hours: pending at the first true hour, firing once true for
    for_n hours running, cleared when a pending alert meets a hour not true, resolved at the (keep+1)-th
    hour not true in a row. Returns the alerts as (pending, firing, end_state, end_hour)."""
    alerts, phase, run, off, cur = [], 0, 0, 0, None
    for h in hours:
        if holds(h):
            run, off = run + 1, 0
            if phase == 0:
                phase, cur = 1, [h, None, "pending", None]
                alerts.append(cur)
            if phase == 1 and run >= max(for_n, 1):
                phase, cur[1], cur[2] = 2, h, "firing"
        else:
            run = 0
            if phase == 1:
                phase, cur[2], cur[3] = 0, "cleared", h
            elif phase == 2:
                off += 1
                if off > keep:
                    phase, cur[2], cur[3] = 0, "resolved", h
    return [tuple(a) for a in alerts]


RULES = {"AIR_PM25_HIGH": (50, 3, 2), "AIR_PM25_VERY_HIGH": (100, 2, 1)}  # threshold, for, keep
UNITS = STATIONS + ["79"]


def predict(values, judged):
    """{(rule, unit): alerts} for judged = {unit: [hours judged, in order]}."""
    out = {}
    for rule, (threshold, for_n, keep) in RULES.items():
        for unit in UNITS:
            out[(rule, unit)] = machine(judged.get(unit, []), lambda h: values.get((unit, h), -1) > threshold, for_n, keep)
    return out


def live_judged(days):
    """The hours the server judges for each unit when the days are committed one by one: a unit is judged
    when a commit reaches it (a station's own rows; the city with any station's), from the hour after the
    last one judged (the first time: the commit's first hour) to the commit's last hour."""
    judged, last = collections.defaultdict(list), {}
    for rows in days.values():
        lo, hi = min(h for _, h, _ in rows), max(h for _, h, _ in rows)
        for unit in sorted({s for s, _, _ in rows}) + ["79"]:
            start = last[unit] + 1 if unit in last else lo
            judged[unit].extend(range(start, hi + 1))
            if start <= hi:
                last[unit] = hi
    return judged


def as_alerts(listing):
    got = collections.defaultdict(list)
    for a in sorted(listing, key=lambda a: a["id"]):
        end = a.get("resolved_at") or a.get("cleared_at")
        got[(a["rule"], a["unit"])].append((a["pending_at"], a.get("firing_at"), a["state"], end))
    return got


def as_codes(predicted):
    return {k: [(code_of(p), code_of(f) if f is not None else None, s, code_of(e) if e is not None else None)
                for p, f, s, e in v] for k, v in predicted.items() if v}


def auth(token):
    return {"Authorization": "Bearer " + token}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("alerts")), demo=True)
    with Server(store) as srv:
        srv.admin = srv.token("admin")
        srv.steward = srv.token("steward")
        srv.leader = srv.token("leader")
        srv.analyst = srv.token("analyst")
        yield srv


def load_scenario(srv, name):
    with open(os.path.join(SCENARIOS, name), encoding="utf-8") as f:
        doc = json.load(f)
    r = srv.post("/api/v1/scenarios", doc, headers=auth(srv.steward))
    assert r.status in (200, 201), r.body
    return doc


@pytest.mark.skipif(not os.path.exists(AIR_CSV), reason="the shared data pack is not beside the repository")
def test_air_quality_replay_fires_the_predicted_alerts(city):
    load_scenario(city, "air_pollution.json")
    days, values = load_air()
    for day, rows in days.items():
        body = "indicator,orgunit,period,value\n" + "".join(
            "PM25,%s,%s,%r\n" % (s, code_of(h), v) for s, h, v in rows)
        r = city.post("/api/v1/data", body, headers=dict(auth(city.admin), **{"Content-Type": "text/csv"}))
        assert r.status == 201, (day, r.body[:500])
    r = city.get("/api/v1/alerts?scenario=AIR_POLLUTION&limit=10000", headers=auth(city.analyst))
    assert r.status == 200
    listing = r.json()["alerts"]
    expected = as_codes(predict(values, live_judged(days)))
    got = as_alerts(listing)
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == expected[key], key
    total = sum(len(v) for v in expected.values())
    assert r.json()["total"] == total and total > 100
    firing_ever = sum(1 for v in expected.values() for a in v if a[1] is not None)
    assert firing_ever > 50
    # the critical rule activated the scenario and created tasks for DAE with DOH and POLICE
    sc = city.get("/api/v1/scenarios/AIR_POLLUTION", headers=auth(city.analyst)).json()
    assert sc["active"] is True
    report = city.get("/api/v1/scenarios/AIR_POLLUTION/report", headers=auth(city.analyst)).json()
    critical = sum(1 for (rule, _), v in expected.items() if rule == "AIR_PM25_VERY_HIGH" for a in v if a[1])
    assert len(report["tasks"]) == critical
    assert {t["lead"] for t in report["tasks"]} == {"DAE"} and report["tasks"][0]["co_agencies"] == "DOH;POLICE"
    assert [a["data"]["by"] for a in report["activations"]] == ["system"]

    # a replay of the whole window on a fresh engine judges every hour of every unit
    first, last = min(h for rows in days.values() for _, h, _ in rows), max(h for rows in days.values() for _, h, _ in rows)
    r = city.post("/api/v1/scenarios/AIR_POLLUTION/simulate", {"from": code_of(first), "to": code_of(last)},
                  headers=auth(city.analyst))
    assert r.status == 200, r.body
    sim = r.json()
    assert sim["side_effects"] is False
    replayed = collections.defaultdict(list)
    for a in sim["alerts"]:
        replayed[(a["rule"], a["unit"])].append((a["pending_at"], a["firing_at"], a["state"],
                                                 a.get("resolved_at") or a.get("cleared_at")))
    window = list(range(first, last + 1))
    assert dict(replayed) == as_codes(predict(values, {u: window for u in UNITS}))
    assert sum(1 for a in sim["actions"] if a["type"] == "task") == sum(
        1 for a in sim["alerts"] if a["rule"] == "AIR_PM25_VERY_HIGH" and a["firing_at"])
    # nothing of the simulation was written
    assert city.get("/api/v1/alerts?scenario=AIR_POLLUTION&limit=10000", headers=auth(city.analyst)).json()["total"] == total


# ---- webhooks ----

class Receiver:
    """A webhook receiver on 127.0.0.1: checks each signature, records each delivery (event id, kind)."""

    def __init__(self, port, secret):
        self.port, self.secret = port, secret.encode()
        self.got, self.bad = [], []
        self.httpd = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts, sig = self.headers["X-Databrain-Timestamp"], self.headers["X-Databrain-Signature"]
                want = "sha256=" + hmac.new(receiver.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                doc = json.loads(body)
                if not hmac.compare_digest(want, sig) or str(doc["id"]) != self.headers["X-Databrain-Event-Id"]:
                    receiver.bad.append(self.headers["X-Databrain-Event-Id"])
                    self.send_response(401)
                else:
                    receiver.got.append((doc["id"], doc["kind"]))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_webhook_receives_every_event_once_across_a_restart(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    port = free_port()  # nobody listens there yet: the receiver is down
    secret = "a-secret-of-the-receiver-0123456789"
    receiver = Receiver(port, secret)
    srv = Server(store)
    try:
        admin = srv.token("admin")
        r = srv.post("/api/v1/webhooks", {"url": "http://127.0.0.1:%d/hook" % port, "secret": secret,
                                          "events": ["alert.firing", "alert.resolved"], "backoff_ms": 100,
                                          "max_backoff_ms": 400, "max_attempts": 100}, headers=auth(admin))
        assert r.status == 201, r.body
        hook = r.json()["id"]
        assert r.json()["secret"] == secret
        assert "secret" not in srv.get("/api/v1/webhooks", headers=auth(admin)).json()["webhooks"][0]
        rule = {"code": "NO2_HIGH", "condition": "NO2 > 100", "for": 1, "keep_firing_for": 0,
                "units": STATIONS, "severity": "critical"}
        assert srv.post("/api/v1/rules", rule, headers=auth(admin)).status == 201
        rows = ["indicator,orgunit,period,value"]
        for k, station in enumerate(STATIONS):  # each station fires at 2021-05-01T0k:00, resolves an hour later
            rows += ["NO2,%s,2021-05-01T0%d:00,%d" % (station, k, 150), "NO2,%s,2021-05-01T0%d:00,%d" % (station, k + 1, 20)]
        r = srv.post("/api/v1/data", "\n".join(rows) + "\n", headers=dict(auth(admin), **{"Content-Type": "text/csv"}))
        assert r.status == 201, r.body
        feed = srv.get("/api/v1/events?format=json&kind=alert.firing,alert.resolved&after=0&limit=1000",
                       headers=auth(admin)).json()["events"]
        expected = {e["id"] for e in feed}
        assert len(expected) == 12
        # the receiver is down: the deliveries fail and are retried with backoff
        assert wait_for(lambda: all(d["attempts"] >= 2 for d in srv.get(
            "/api/v1/webhooks/%d/deliveries" % hook, headers=auth(admin)).json()["deliveries"]))
        log = srv.get("/api/v1/webhooks/%d/deliveries?status=pending" % hook, headers=auth(admin)).json()
        assert log["counts"] == {"pending": 12, "delivered": 0, "dead": 0}
        assert all(a["status"] == 0 and a["error"] for d in log["deliveries"] for a in d["log"])
        assert srv.stop() == 0
        # databrain restarts; the receiver comes back a little later
        srv.start()
        time.sleep(1.0)
        receiver.start()
        assert wait_for(lambda: {i for i, _ in receiver.got} >= expected), receiver.got
        time.sleep(1.0)  # anything sent twice would have arrived by now
        assert receiver.bad == []
        counts = collections.Counter(i for i, _ in receiver.got)
        assert set(counts) == expected and set(counts.values()) == {1}
        assert collections.Counter(k for _, k in receiver.got) == {"alert.firing": 6, "alert.resolved": 6}
        log = srv.get("/api/v1/webhooks/%d/deliveries" % hook, headers=auth(admin)).json()
        assert log["counts"] == {"pending": 0, "delivered": 12, "dead": 0}
        assert all(d["log"][-1]["status"] == 204 for d in log["deliveries"])
        assert srv.stop() == 0
    finally:
        srv.stop()
        receiver.stop()


def test_dead_letter_after_the_last_try(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    with Server(store) as srv:
        admin = srv.token("admin")
        port = free_port()
        hook = srv.post("/api/v1/webhooks", {"url": "http://127.0.0.1:%d/" % port, "events": ["*"], "max_attempts": 3,
                                             "backoff_ms": 50, "max_backoff_ms": 100}, headers=auth(admin)).json()
        assert len(hook["secret"]) == 64  # generated, shown once
        srv.post("/api/v1/rules", {"code": "SO2_HIGH", "condition": "SO2 > 1", "units": ["AQ01"]}, headers=auth(admin))
        srv.post("/api/v1/data", "indicator,orgunit,period,value\nSO2,AQ01,2021-05-01T00:00,5\n",
                 headers=dict(auth(admin), **{"Content-Type": "text/csv"}))
        url = "/api/v1/webhooks/%d/deliveries" % hook["id"]
        # only state changes that need someone notify (firing, resolved, repeats, stale feeds): one delivery
        assert wait_for(lambda: srv.get(url, headers=auth(admin)).json()["counts"]["dead"] == 1)
        d = srv.get(url + "?status=dead", headers=auth(admin)).json()["deliveries"]
        assert [len(x["log"]) for x in d] == [3] and d[0]["attempts"] == 3 and d[0]["kind"] == "alert.firing"
        assert "Connection refused" in d[0]["log"][0]["error"] or "connect" in d[0]["log"][0]["error"].lower()
        dead = srv.get("/api/v1/events?format=json&kind=webhook.dead&after=0", headers=auth(admin)).json()["events"]
        assert sorted(e["data"]["event"] for e in dead) == sorted(x["event"] for x in d)


# ---- the event stream ----

def sse_read(srv, token, query="", last_event_id=None, want=1, timeout=10):
    """Opens the stream and reads until `want` events or `timeout` seconds: ([(id, kind, data)], comments)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    headers = {"Accept": "text/event-stream", "Authorization": "Bearer " + token}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    conn.request("GET", "/api/v1/events" + query, headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events, comments, fields = [], [], {}
    deadline = time.time() + timeout
    try:
        while len(events) < want and time.time() < deadline:
            try:
                line = resp.readline()
            except (socket.timeout, TimeoutError):
                break
            if not line:
                break
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if "id" in fields:
                    doc = json.loads(fields["data"])
                    assert doc["id"] == int(fields["id"]) and doc["kind"] == fields["event"]
                    events.append((doc["id"], doc["kind"], doc["data"]))
                fields = {}
            elif line.startswith(":"):
                comments.append(line)
            else:
                k, v = line.split(": ", 1)
                fields[k] = v
    finally:
        conn.close()
    return events, comments


def test_event_stream_filters_and_resumes(city):
    admin, leader = city.admin, city.leader
    city.post("/api/v1/rules", {"code": "CO_HIGH", "condition": "CO > 5000", "for": 1, "units": ["AQ01", "AQ02"],
                                "severity": "emergency"}, headers=auth(city.steward))
    start = city.get("/api/v1/events?format=json&after=0&limit=1000", headers=auth(admin)).json()["last"]
    while True:  # the end of the log
        page = city.get("/api/v1/events?format=json&after=%d&limit=1000" % start, headers=auth(admin)).json()
        if not page["events"]:
            break
        start = page["last"]
    result = {}

    def listen():
        result["events"], result["comments"] = sse_read(city, leader, "?kind=alert&severity=emergency&unit=AQ02", want=2)
    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.5)
    city.post("/api/v1/data", "indicator,orgunit,period,value\nCO,AQ01,2021-06-01T00:00,9000\nCO,AQ02,2021-06-01T00:00,9000\n"
              "CO,AQ02,2021-06-01T01:00,100\n", headers=dict(auth(admin), **{"Content-Type": "text/csv"}))
    t.join(15)
    kinds = [(k, d["unit"]) for _, k, d in result["events"]]
    assert kinds == [("alert.pending", "AQ02"), ("alert.firing", "AQ02")]
    # each names the data batch that caused it
    batches = {d["batch"] for _, _, d in result["events"]}
    assert len(batches) == 1 and all(d["batch_ms"] > 0 for _, _, d in result["events"])
    assert result["comments"][0] == ": heartbeat"
    first_id = result["events"][0][0]
    # resuming after the first event gives the rest, in order, with the same filter
    events, _ = sse_read(city, leader, "?kind=alert.*&unit=AQ02", last_event_id=first_id, want=2)
    assert [(k, d["unit"]) for _, k, d in events] == [("alert.firing", "AQ02"), ("alert.resolved", "AQ02")]
    assert all(i > first_id for i, _, _ in events)
    # the JSON page and the stream agree on ids
    page = city.get("/api/v1/events?format=json&kind=alert&unit=AQ02&after=%d" % (first_id - 1), headers=auth(admin)).json()
    assert [e["id"] for e in page["events"]][:3] == [first_id] + [i for i, _, _ in events]
    # heartbeats while nothing happens
    _, comments = sse_read(city, leader, "?kind=nothing.at.all&heartbeat=1", want=1, timeout=2.5)
    assert comments.count(": heartbeat") >= 2
    # bad parameters are refused before the stream starts
    r = city.get("/api/v1/events?severity=loud", headers=auth(leader))
    assert r.status == 400 and r.problem()["errors"] == [{"path": "severity", "message": "expected info, warning, critical or emergency"}]
    assert city.get("/api/v1/events?format=json").status == 401


def test_handling_acknowledge_assign_silence_inhibit(city):
    steward, leader, admin = city.steward, city.leader, city.admin
    rule = {"code": "O3_HIGH", "condition": "O3 > 200", "for": 1, "units": ["AQ03", "79"], "severity": "warning",
            "message": {"vi": "{unit_name}: O3 {value}", "en": "{unit}: O3 {value}"}}
    assert city.post("/api/v1/rules", rule, headers=auth(steward)).status == 201
    assert city.post("/api/v1/rules", rule, headers=auth(steward)).status == 200  # replaced
    csv_h = dict(auth(admin), **{"Content-Type": "text/csv"})
    city.post("/api/v1/data", "indicator,orgunit,period,value\nO3,AQ03,2021-07-01T00:00,300\n", headers=csv_h)
    alerts = city.get("/api/v1/alerts?rule=O3_HIGH", headers=auth(leader)).json()["alerts"]
    by_unit = {a["unit"]: a for a in alerts}
    # the city (the only station reporting) fires too; the station's alert is inhibited by it
    assert by_unit["79"]["state"] == "firing" and by_unit["AQ03"]["state"] == "firing"
    assert by_unit["AQ03"]["inhibited"] is True and by_unit["79"]["inhibited"] is False
    assert by_unit["79"]["message"] == {"vi": "Thành phố Hồ Chí Minh: O3 300", "en": "79: O3 300"}
    aid = by_unit["79"]["id"]
    # acknowledge (leaders), twice is a conflict; analysts may not
    assert city.post("/api/v1/alerts/%d/acknowledge" % aid, {"note": "đã nắm"}, headers=auth(city.analyst)).status == 403
    r = city.post("/api/v1/alerts/%d/acknowledge" % aid, {"note": "đã nắm"}, headers=auth(leader))
    assert r.status == 200 and r.json()["acknowledged"]["note"] == "đã nắm"
    assert city.post("/api/v1/alerts/%d/acknowledge" % aid, {}, headers=auth(leader)).status == 409
    # assign: a task for the agency, with the alert as its origin
    r = city.post("/api/v1/alerts/%d/assign" % aid, {"agency": "DAE", "deadline": "2d"}, headers=auth(leader))
    assert r.status == 201, r.body
    task = r.json()["assigned"]["task"]
    t = city.get("/api/v1/tasks/%d" % task, headers=auth(leader))
    if t.status == 200:
        assert t.json()["origin"] == "alert:%d" % aid and t.json()["lead"] == "DAE"
    r = city.post("/api/v1/alerts/%d/assign" % aid, {"agency": "NOPE", "deadline": "soon"}, headers=auth(leader))
    assert r.status == 400
    assert [e["path"] for e in r.problem()["errors"]] == ["$.deadline"]
    # silence the station for an hour: its next firing notifies nobody
    sid = by_unit["AQ03"]["id"]
    r = city.post("/api/v1/alerts/%d/silence" % sid, {"duration": "1h", "reason": "bảo trì trạm"}, headers=auth(leader))
    assert r.status == 201 and r.json()["silenced"] is True
    bad = city.post("/api/v1/alerts/%d/silence" % sid, {"duration": "forever"}, headers=auth(leader))
    assert [e["path"] for e in bad.problem()["errors"]] == ["$.duration", "$.reason"]
    city.post("/api/v1/data", "indicator,orgunit,period,value\nO3,AQ03,2021-07-01T01:00,10\nO3,AQ03,2021-07-01T02:00,300\n",
              headers=csv_h)
    again = [a for a in city.get("/api/v1/alerts?rule=O3_HIGH&unit=AQ03", headers=auth(leader)).json()["alerts"]]
    assert again[0]["state"] == "firing" and again[0]["silenced"] is True and again[0]["pending_at"] == "2021-07-01T02:00"
    groups = city.get("/api/v1/alerts?rule=O3_HIGH&group_by=unit", headers=auth(leader)).json()["groups"]
    assert {g["unit"]: g["count"] for g in groups} == {"AQ03": 2, "79": 2}
    assert city.get("/api/v1/alerts/999999", headers=auth(leader)).status == 404


def test_bad_rules_and_scenarios_list_every_problem(city):
    r = city.post("/api/v1/rules", {"code": "BAD", "condition": "PM25 >", "for": -1, "units": ["NOWHERE"]},
                  headers=auth(city.steward))
    assert r.status == 400
    errors = r.problem()["errors"]
    assert errors[0] == {"path": "$.for", "message": "expected a whole number of periods (0..1000000) or a duration like \"10m\", \"2h\""}
    r = city.post("/api/v1/rules", {"code": "BAD", "condition": "PM25 >", "units": ["NOWHERE"]}, headers=auth(city.steward))
    assert [e["path"] for e in r.problem()["errors"]] == ["$.condition", "$.units[0]"]
    assert r.problem()["errors"][1]["message"] == "unknown org unit 'NOWHERE'"
    assert city.post("/api/v1/rules", {"code": "X", "condition": "PM25 > 1", "units": ["79"]}, headers=auth(city.leader)).status == 403
    r = city.post("/api/v1/scenarios", {"code": "S", "name": "x", "kind": "party", "rules": [{"code": "R"}]},
                  headers=auth(city.steward))
    assert r.status == 400
    assert [e["path"] for e in r.problem()["errors"]] == ["$.kind", "$.rules[0].condition", "$.rules[0]"]
    assert city.get("/api/v1/rules/NOPE", headers=auth(city.analyst)).status == 404


def test_scenario_whatif_activation_and_report(city):
    load_scenario(city, "air_pollution.json")
    leader, analyst = city.leader, city.analyst
    before = city.get("/api/v1/alerts?limit=10000", headers=auth(analyst)).json()["total"]
    overlay = [{"indicator": "PM25", "orgunit": "AQ05", "period": "2030-01-01T0%d:00" % h, "value": 180} for h in range(4)]
    r = city.post("/api/v1/scenarios/AIR_POLLUTION/simulate", {"overlay": overlay}, headers=auth(analyst))
    assert r.status == 200, r.body
    sim = r.json()
    got = {(a["rule"], a["unit"]): (a["pending_at"], a["firing_at"], a["state"]) for a in sim["alerts"]}
    assert got == {("AIR_PM25_HIGH", "AQ05"): ("2030-01-01T00:00", "2030-01-01T02:00", "firing"),
                   ("AIR_PM25_HIGH", "79"): ("2030-01-01T00:00", "2030-01-01T02:00", "firing"),
                   ("AIR_PM25_VERY_HIGH", "AQ05"): ("2030-01-01T00:00", "2030-01-01T01:00", "firing"),
                   ("AIR_PM25_VERY_HIGH", "79"): ("2030-01-01T00:00", "2030-01-01T01:00", "firing")}
    tasks = [a for a in sim["actions"] if a["type"] == "task"]
    assert [(t["unit"], t["lead"], t["co"], t["deadline"]) for t in tasks] == [
        ("AQ05", "DAE", ["DOH", "POLICE"], "2030-01-02"), ("79", "DAE", ["DOH", "POLICE"], "2030-01-02")]
    assert tasks[0]["title"].startswith("Kiểm tra nguồn phát thải quanh Trạm quan trắc không khí số 5 (PM2.5 180")
    # no side effect: no alert, no data
    assert city.get("/api/v1/alerts?limit=10000", headers=auth(analyst)).json()["total"] == before
    assert city.get("/api/v1/series/PM25/AQ05?from=2030-01-01T00:00", headers=auth(analyst)).json().get("observations", []) == []
    bad = city.post("/api/v1/scenarios/AIR_POLLUTION/simulate", {"overlay": [{"indicator": "PM25", "orgunit": "AQ05",
                                                                              "period": "2030-01", "value": "x"}]},
                    headers=auth(analyst))
    assert [e["path"] for e in bad.problem()["errors"]] == ["$.overlay[0].value", "$.overlay[0].period"]
    # the example: 120 mm of rain in 3 hours in a ward, and a flooded street in another
    rain = [{"indicator": "RAIN_1H_MM", "orgunit": "90001", "period": "2025-09-01T%02d:00" % h, "value": 40}
            for h in (14, 15, 16)] + [{"indicator": "FLOOD_DEPTH_CM", "orgunit": "90002", "period": "2025-09-01T16:00",
                                       "value": 45}]
    flood = city.post("/api/v1/scenarios/FLOOD_RAIN/simulate", {"overlay": rain}, headers=auth(analyst)).json()
    assert [(a["rule"], a["unit"], a["firing_at"], a["value"]) for a in flood["alerts"]] == [
        ("FLOOD_RAIN_3H", "90001", "2025-09-01T16:00", 120), ("FLOOD_DEPTH", "90002", "2025-09-01T16:00", 45)]
    assert [(a["type"], a["rule"]) for a in flood["actions"]] == [
        ("webhook", "FLOOD_RAIN_3H"), ("escalate", "FLOOD_RAIN_3H"), ("activate", "FLOOD_DEPTH"),
        ("task", "FLOOD_DEPTH"), ("webhook", "FLOOD_DEPTH"), ("escalate", "FLOOD_DEPTH")]
    assert city.get("/api/v1/scenarios/FLOOD_RAIN", headers=auth(analyst)).json()["active"] is False
    # by hand: deactivate (it was activated by the replay, or activate it now), steps of the checklist
    state = city.get("/api/v1/scenarios/AIR_POLLUTION", headers=auth(analyst)).json()["active"]
    if state:
        assert city.post("/api/v1/scenarios/AIR_POLLUTION/activate", {"active": False}, headers=auth(leader)).status == 200
    r = city.post("/api/v1/scenarios/AIR_POLLUTION/activate", {"note": "họp khẩn"}, headers=auth(leader))
    assert r.status == 200 and r.json()["active"] is True
    assert city.post("/api/v1/scenarios/AIR_POLLUTION/activate", {}, headers=auth(leader)).status == 409
    assert city.post("/api/v1/scenarios/AIR_POLLUTION/activate", {"step": 2, "note": "đã gửi"}, headers=auth(leader)).status == 200
    assert city.post("/api/v1/scenarios/AIR_POLLUTION/activate", {"step": 9}, headers=auth(leader)).status == 400
    rep = city.get("/api/v1/scenarios/AIR_POLLUTION/report", headers=auth(analyst)).json()
    assert rep["checklist"][1]["done"]["by"] and "done" not in rep["checklist"][0]
    assert rep["activations"][-1]["data"]["note"] == "họp khẩn"
    pm = [d for d in rep["data"] if d["indicator"] == "PM25"]
    assert pm and all(d["orgunit"] == "79" and d["period"] and d["value"] > 0 for d in pm)
    md = city.get("/api/v1/scenarios/AIR_POLLUTION/report?format=md", headers=auth(analyst))
    assert md.header("Content-Type").startswith("text/markdown") and md.text.startswith("# Báo cáo sau sự kiện")
    csv_r = city.get("/api/v1/scenarios/AIR_POLLUTION/report?format=csv", headers=auth(analyst))
    assert csv_r.text.splitlines()[0] == "event,time,kind,rule,unit,severity,detail"
    assert city.get("/api/v1/scenarios/NOPE/report", headers=auth(analyst)).status == 404


def test_clock_escalation_staleness_and_restart(tmp_path):
    """Time-based conditions on the clock, the alert state across a restart, and a prompt stop with an
    event stream open."""
    store = make_store(str(tmp_path), demo=True)
    srv = Server(store)
    try:
        admin, leader = srv.token("admin"), srv.token("leader")
        scenario = {"code": "CLOCK", "name": "Kiểm thử đồng hồ", "kind": "emergency",
                    "rules": [{"code": "CLK_NO2", "condition": "NO2 > 100", "for": 2, "keep_firing_for": 0,
                               "stale_after": "2s", "units": ["AQ04", "AQ05"], "severity": "critical"}],
                    "actions": [{"on": "*", "type": "escalate", "after": "1s", "to": "leader"}]}
        assert srv.post("/api/v1/scenarios", scenario, headers=auth(admin)).status == 201
        csv_h = dict(auth(admin), **{"Content-Type": "text/csv"})
        srv.post("/api/v1/data", "indicator,orgunit,period,value\nNO2,AQ04,2021-09-01T00:00,150\n"
                 "NO2,AQ04,2021-09-01T01:00,160\nNO2,AQ05,2021-09-01T00:00,150\nNO2,AQ05,2021-09-01T01:00,160\n",
                 headers=csv_h)
        alerts = {a["unit"]: a for a in srv.get("/api/v1/alerts?rule=CLK_NO2", headers=auth(admin)).json()["alerts"]}
        assert alerts["AQ04"]["state"] == "firing" and alerts["AQ04"]["firing_at"] == "2021-09-01T01:00"
        # AQ05 is acknowledged at once: only AQ04 escalates, a second or so after firing
        assert srv.post("/api/v1/alerts/%d/acknowledge" % alerts["AQ05"]["id"], {}, headers=auth(leader)).status == 200

        def events(kind):
            return srv.get("/api/v1/events?format=json&after=0&limit=1000&kind=" + kind, headers=auth(admin)).json()["events"]
        assert wait_for(lambda: len(events("alert.escalated")) == 1, timeout=10)
        esc = events("alert.escalated")[0]["data"]
        assert esc["unit"] == "AQ04" and esc["to"] == "leader" and esc["unacknowledged_ms"] >= 1000
        # no data for 2 s: both feeds go stale, and fresh again with new data
        assert wait_for(lambda: {e["data"]["unit"] for e in events("alert.stale")} == {"AQ04", "AQ05"}, timeout=10)
        srv.post("/api/v1/data", "indicator,orgunit,period,value\nNO2,AQ04,2021-09-01T02:00,170\n", headers=csv_h)
        assert [e["data"]["unit"] for e in events("alert.fresh")] == ["AQ04"]
        # a restart keeps AQ05's firing alert: the next hour below the threshold resolves that same alert
        assert srv.stop() == 0
        srv.start()
        srv.post("/api/v1/data", "indicator,orgunit,period,value\nNO2,AQ05,2021-09-01T02:00,20\n", headers=csv_h)
        a5 = srv.get("/api/v1/alerts/%d" % alerts["AQ05"]["id"], headers=auth(admin)).json()
        assert a5["state"] == "resolved" and a5["resolved_at"] == "2021-09-01T02:00"
        assert a5["acknowledged"]["by"]
        assert len(srv.get("/api/v1/alerts?rule=CLK_NO2&unit=AQ05", headers=auth(admin)).json()["alerts"]) == 1
        # SIGTERM with an event stream open: the stream ends and the server stops promptly
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + admin})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.readline() == b": heartbeat\n"
        started = time.time()
        assert srv.stop() == 0
        assert time.time() - started < 5
        conn.close()
    finally:
        srv.stop()


def test_command_line(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    # the demo loaded the four scenarios: loading one again replaces it
    r = run_cli(store, "scenario", "load", os.path.join(SCENARIOS, "dengue_outbreak.json"))
    assert r.stdout == "scenario DENGUE replaced: 2 rules, 3 actions, 4 checklist steps\n"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"code": "X", "name": "x", "kind": "meeting", "panels": [{"title": "t", "indicators": ["NOPE"]}],
                               "rules": [{"code": "AIR_PM25_HIGH", "condition": "PM25 > 1", "units": ["79"]}]}))
    r = run_cli(store, "scenario", "load", str(bad), check=False)
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.splitlines() == [str(bad) + ": $.panels[0].indicators[0]: unknown indicator 'NOPE'"]
    bad.write_text(json.dumps({"code": "X", "name": "x", "kind": "meeting",
                               "rules": [{"code": "AIR_PM25_HIGH", "condition": "PM25 > 1", "units": ["79"]}]}))
    r = run_cli(store, "scenario", "load", str(bad), check=False)
    assert r.returncode == 3
    assert "$.rules[0].code: 'AIR_PM25_HIGH' is already the code of a rule of scenario AIR_POLLUTION" in r.stderr
    assert run_cli(store, "scenario", "load", str(tmp_path / "missing.json"), check=False).returncode == 1
    rules = list(csv.DictReader(run_cli(store, "rule", "list").stdout.splitlines()))
    assert len(rules) == 10 and {r["scenario"] for r in rules} == {"AIR_POLLUTION", "FLOOD_RAIN", "DENGUE", "MONTHLY_MEETING"}
    assert {r["code"]: (r["severity"], r["for"], r["keep_firing_for"]) for r in rules}["AIR_PM25_HIGH"] == ("warning", "3", "2")
    # alerts written by a server are listed by the command line
    with Server(store) as srv:
        srv.post("/api/v1/data", "indicator,orgunit,period,value\n" + "".join(
            "PM25,AQ06,2021-04-01T%02d:00,%d\n" % (h, 150) for h in range(3)),
            headers={"Authorization": "Bearer " + srv.token("admin"), "Content-Type": "text/csv"})
    out = run_cli(store, "alert", "list", "--state", "firing", "--unit", "AQ06").stdout.splitlines()
    assert out[0] == "id,rule,unit,severity,state,pending_at,firing_at,ended_at"
    assert sorted(line.split(",", 1)[1] for line in out[1:]) == [
        "AIR_PM25_HIGH,AQ06,warning,firing,2021-04-01T00:00,2021-04-01T02:00,",
        "AIR_PM25_VERY_HIGH,AQ06,critical,firing,2021-04-01T00:00,2021-04-01T01:00,"]
    assert run_cli(store, "alert", "list", "--state", "loud", check=False).returncode == 2
