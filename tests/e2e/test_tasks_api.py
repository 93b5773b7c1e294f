"""Tasks over HTTP against the real server on the synthetic demo city: assigning a task under a directive,
the workflow with its refusals (409 naming the state and the allowed moves) and optimistic concurrency
(ETag / If-Match, 412), who sees what (a reporter only its agency's tasks), extensions, progress reports
with evidence files (hash, size limit), the all-or-nothing CSV import with every problem located, the
CSV export, the audit trail, and the statistics published as the TASK_* indicators."""
import base64
import datetime
import hashlib

import pytest

from server import Server, make_store

WARD = "90001"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("tasks")), demo=True)
    with Server(store) as srv:
        tokens = {
            "leader": srv.token("leader"),
            "admin": srv.token("admin"),
            "analyst": srv.token("analyst"),
            "dae": srv.token("reporter", agency="DAE", scope=WARD),
            "doh": srv.token("reporter", agency="DOH"),
        }
        yield srv, {k: {"Authorization": "Bearer " + v} for k, v in tokens.items()}


def new_task(srv, who, **fields):
    body = {"title": "Thu gom rác thải sinh hoạt đúng giờ", "lead": "DAE", "unit": WARD, "assigned": "2025-07-01",
            "deadline": "2025-09-30", "priority": "high"}
    body.update(fields)
    r = srv.post("/api/v1/tasks", body, headers=who)
    assert r.status == 201, r
    return r


def test_workflow_with_refusals_and_etags(city):
    srv, h = city
    r = srv.post("/api/v1/directives", {"number": "318/TB-VP", "date": "2025-06-20", "issuer": "UBND Thành phố",
                                        "title": "Thông báo kết luận về môi trường đô thị"}, headers=h["leader"])
    assert r.status == 201, r
    again = srv.post("/api/v1/directives", {"number": "318/TB-VP", "date": "2025-06-20", "issuer": "x", "title": "y"},
                     headers=h["leader"])
    assert again.status == 409
    assert again.problem()["errors"] == [{"path": "number", "message": "directive 318/TB-VP exists already"}]
    r = new_task(srv, h["leader"], directive="318/TB-VP", co_agencies=["DOC"])
    task = r.json()
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date().isoformat()
    assert r.header("ETag") == f'"1-{today}"'  # the version, and the day the state was computed for
    # today is after the deadline: the computed state says so, the stored status does not
    assert (task["status"], task["state"], task["overdue"], task["due"], task["directive"], task["co_agencies"]) == \
        ("new", "overdue", True, "2025-09-30", "318/TB-VP", ["DOC"])
    tid = task["id"]
    # an illegal move names the state and the allowed moves, and changes nothing
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "done"}, headers=h["dae"])
    assert r.status == 409
    assert r.problem()["errors"] == [{"path": "status", "message": f"task {tid} is new: it cannot move to done "
                                                                  "(allowed from new: in_progress, cancelled)"}]
    # If-Match with a stale version: 412
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "in_progress", "day": "2025-07-02"},
                    headers={**h["dae"], "If-Match": '"7"'})
    assert r.status == 412
    assert r.problem()["errors"][0]["message"] == \
        f"task {tid} changed meanwhile: version 7 expected, the task is at version 1"
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "in_progress", "day": "2025-07-02"},
                    headers={**h["dae"], "If-Match": '"1"'})
    assert r.status == 200, r
    assert r.header("ETag") == f'"2-{today}"'
    assert (r.json()["status"], r.json()["started"]) == ("in_progress", "2025-07-02")
    # a read's ETag answers 304 while the task and the day stay, and serves as If-Match for an update
    etag = srv.get(f"/api/v1/tasks/{tid}", headers=h["dae"]).header("ETag")
    assert etag == f'"2-{today}"'
    assert srv.get(f"/api/v1/tasks/{tid}", headers={**h["dae"], "If-None-Match": etag}).status == 304
    # the reporter moves, but does not edit or cancel; an analyst does neither
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"priority": "low"}, headers=h["dae"])
    assert r.status == 403
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "cancelled"}, headers=h["dae"])
    assert r.status == 403
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "done"}, headers=h["analyst"])
    assert r.status == 403
    # a leader edits; a bad edit lists its problems
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"priority": "urgent", "lead": "NOPE", "deadline": "31/13/2025"},
                    headers=h["leader"])
    assert r.status == 400
    assert r.problem()["errors"] == [{"path": "deadline", "message": "not a date (YYYY-MM-DD or dd/mm/yyyy)"}]
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"priority": "urgent", "lead": "NOPE"}, headers=h["leader"])
    assert r.status == 400
    assert r.problem()["errors"] == [{"path": "lead", "message": "unknown agency 'NOPE'"}]
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"priority": "urgent"}, headers={**h["leader"], "If-Match": etag})
    assert (r.status, r.json()["priority"], r.json()["version"]) == (200, "urgent", 3)
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "done", "day": "2025-10-02"}, headers=h["dae"])
    assert r.status == 200, r
    assert (r.json()["state"], r.json()["days_late"]) == ("done_late", 2)
    r = srv.request("PATCH", f"/api/v1/tasks/{tid}", {"status": "in_progress"}, headers=h["leader"])
    assert r.status == 409
    assert r.problem()["errors"][0]["message"] == \
        f"task {tid} is done: it cannot move to in_progress (no move is allowed from done)"
    # every change is in the audit trail
    audit = srv.get("/api/v1/audit?limit=1000", headers=h["admin"]).json()
    actions = [a["action"] for a in audit["records"] if a["object"] == f"task:{tid}"]
    assert actions == ["task.created", "task.started", "task.updated", "task.done"]


def test_reporters_see_their_agency_only(city):
    srv, h = city
    mine = new_task(srv, h["leader"], title="Nạo vét kênh rạch").json()["id"]
    theirs = new_task(srv, h["leader"], title="Tiêm chủng mở rộng", lead="DOH", unit="79").json()["id"]
    seen = [t["id"] for t in srv.get("/api/v1/tasks", headers=h["dae"]).json()["tasks"]]
    assert mine in seen and theirs not in seen
    assert srv.get(f"/api/v1/tasks/{theirs}", headers=h["dae"]).status == 404
    assert srv.get(f"/api/v1/tasks/{theirs}", headers=h["doh"]).status == 200
    assert srv.get("/api/v1/tasks?agency=DOH", headers=h["dae"]).status == 403
    everyone = [t["id"] for t in srv.get("/api/v1/tasks", headers=h["leader"]).json()["tasks"]]
    assert mine in everyone and theirs in everyone
    # filters and the computed state
    r = srv.get("/api/v1/tasks?lead=DOH&as_of=2025-10-15&overdue=true", headers=h["leader"]).json()
    assert theirs in [t["id"] for t in r["tasks"]] and all(t["state"] == "overdue" for t in r["tasks"])
    r = srv.get("/api/v1/tasks?status=bogus", headers=h["leader"])
    assert r.status == 400
    # a reporter of another agency cannot report on the task
    r = srv.post(f"/api/v1/tasks/{mine}/reports", {"percent": 10, "text": "x"}, headers=h["doh"])
    assert r.status == 403
    assert r.problem()["errors"] == [{"path": "lead", "message": f"only the lead agency DAE acts on task {mine}"}]


def test_reports_evidence_and_extensions(city):
    srv, h = city
    tid = new_task(srv, h["leader"], title="Cải tạo vỉa hè").json()["id"]
    pdf = b"%PDF-1.4 bien ban nghiem thu"
    r = srv.post(f"/api/v1/tasks/{tid}/reports", {"percent": 60, "text": "Đã hoàn thành 60% khối lượng",
                                                  "links": ["https://dae.hochiminhcity.gov.vn/tin/1"],
                                                  "files": [{"name": "bien-ban.pdf", "content_type": "application/pdf",
                                                             "data": base64.b64encode(pdf).decode()}]},
                 headers=h["dae"])
    assert r.status == 201, r
    sha = hashlib.sha256(pdf).hexdigest()
    reports = srv.get(f"/api/v1/tasks/{tid}/reports", headers=h["analyst"]).json()["reports"]
    assert [(x["percent"], x["files"][0]["sha256"], x["files"][0]["size"]) for x in reports] == [(60, sha, len(pdf))]
    got = srv.get(f"/api/v1/tasks/{tid}/evidence/{sha}", headers=h["analyst"])
    assert (got.status, got.body, got.header("Content-Type")) == (200, pdf, "application/pdf")
    task = srv.get(f"/api/v1/tasks/{tid}", headers=h["leader"]).json()
    assert (task["status"], task["percent"]) == ("in_progress", 60)
    # over the size limit: 413, nothing kept
    big = base64.b64encode(b"x" * (5 * 1024 * 1024 + 1)).decode()
    r = srv.post(f"/api/v1/tasks/{tid}/reports", {"percent": 70, "text": "Ảnh", "files": [
        {"name": "anh.jpg", "data": big}]}, headers=h["dae"])
    assert r.status == 413
    assert r.problem()["errors"] == [{"path": "files[0]", "message": "5242881 bytes, over the limit of 5242880"}]
    assert len(srv.get(f"/api/v1/tasks/{tid}/reports", headers=h["leader"]).json()["reports"]) == 1
    # an extension: asked by the lead agency, approved by a leader; the original deadline stays
    r = srv.post(f"/api/v1/tasks/{tid}/extensions", {"deadline": "2025-11-28", "reason": "Chờ bố trí vốn"},
                 headers=h["dae"])
    assert r.status == 201, r
    assert r.json()["pending_extension"] is True
    r = srv.post(f"/api/v1/tasks/{tid}/extensions/0/approve", {"approve": True, "note": "Đồng ý"}, headers=h["dae"])
    assert r.status == 403
    r = srv.post(f"/api/v1/tasks/{tid}/extensions/0/approve", {"approve": True, "note": "Đồng ý"}, headers=h["leader"])
    assert r.status == 200, r
    t = r.json()
    assert (t["deadline"], t["original_due"], t["due"], t["extensions"][0]["state"]) == \
        ("2025-09-30", "2025-09-30", "2025-11-28", "approved")
    r = srv.post(f"/api/v1/tasks/{tid}/extensions/0/approve", {"approve": False}, headers=h["leader"])
    assert r.status == 409


def test_csv_import_all_or_nothing_and_export(city):
    srv, h = city
    before = srv.get("/api/v1/tasks", headers=h["leader"]).json()["count"]
    bad = ("Tên nhiệm vụ,Cơ quan chủ trì,Thời hạn,Mức độ ưu tiên\n"
           "Kiểm tra an toàn thực phẩm,Sở Y tế,15/10/2025,cao\n"
           "Chống ngập,Sở Không Tồn Tại,31/09/2025,cao\n"
           ",DOC,30/11/2025,vừa\n")
    r = srv.request("POST", "/api/v1/tasks", bad.encode(), headers={**h["leader"], "Content-Type": "text/csv"})
    assert r.status == 400
    assert [e["path"] + ": " + e["message"] for e in r.problem()["errors"]] == [
        "line 3, column 3 (deadline): '31/09/2025' is not a date (dd/mm/yyyy or YYYY-MM-DD)",
        "line 3, column 2 (lead): unknown agency 'Sở Không Tồn Tại'",
        "line 4, column 4 (priority): 'vừa' is not a priority (low, normal, high, urgent)",
        "line 4, column 1 (title): required",
    ]
    assert srv.get("/api/v1/tasks", headers=h["leader"]).json()["count"] == before
    good = ("Tên nhiệm vụ,Cơ quan chủ trì,Cơ quan phối hợp,Ngày giao,Thời hạn,Mức độ ưu tiên\n"
            "Kiểm tra an toàn thực phẩm,Sở Y tế,\"Công an Thành phố Hồ Chí Minh, DOIT\",01/10/2025,15/10/2025,cao\n")
    r = srv.request("POST", "/api/v1/tasks", good.encode(), headers={**h["leader"], "Content-Type": "text/csv"})
    assert (r.status, r.json()) == (201, {"created": 1})
    csv = srv.get("/api/v1/tasks?lead=DOH&format=csv", headers=h["leader"]).text
    assert csv.splitlines()[0].startswith("id,directive,title,description,lead,co_agencies,unit,assigned,deadline")
    assert ",Kiểm tra an toàn thực phẩm,,DOH,POLICE;DOIT,79,2025-10-01,2025-10-15,,,high," in csv


def test_statistics_become_indicators(city):
    srv, h = city
    r = srv.post("/api/v1/tasks/stats?as_of=2025-10-15", None, headers=h["leader"])
    assert r.status == 200, r
    stats = srv.get("/api/v1/tasks/stats?as_of=2025-10-15", headers=h["analyst"]).json()
    dae = [x for x in stats["rows"] if x["key"] == "DAE"][0]
    assert dae["name"] == "Sở Nông nghiệp và Môi trường"
    data = srv.get("/api/v1/data?indicator=TASK_ITEMS&orgunit=79", headers=h["analyst"]).json()
    keyed = {o.get("dims", ""): o["value"] for o in data["observations"] if o["period"] == "2025-10"}
    assert keyed.get("AGENCY=DOH") == [x for x in stats["rows"] if x["key"] == "DOH"][0]["items"]
    assert keyed.get("") == stats["total"]["items"]
