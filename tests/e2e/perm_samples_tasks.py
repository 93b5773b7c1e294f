"""Permission-matrix samples of the task routes (routes_tasks.def), for test_permissions.py.

prepare() assigns, as admin, tasks led by the reporter's agency DAE at the reporter's ward: one shared task
(with an evidence file) for the reads and the progress reports, and one task per role for the cells that
change a task once only (a status move, an extension request, an extension decision), so every cell finds
its task in the state it needs. A reporter of another agency, or outside the ward, acting as the lead
agency gets 403; an analyst reads tasks but may not change them (403 from the handler)."""
import base64
import hashlib

ROLES = ["anonymous", "public", "analyst", "reporter", "leader", "steward", "admin"]
EVIDENCE = b"bien ban nghiem thu"


def _task(srv, admin, ward, title):
    body = {"title": title, "lead": "DAE", "unit": ward, "assigned": "2025-07-01", "deadline": "2026-12-31",
            "directive": "PERM/TB-VP"}
    r = srv.post("/api/v1/tasks", body, headers=admin)
    assert r.status == 201, r
    return r.json()["id"]


def prepare(srv, tokens, ctx):
    admin = {"Authorization": "Bearer " + tokens["admin"]}
    r = srv.post("/api/v1/directives", {"number": "PERM/TB-VP", "date": "2025-07-01", "issuer": "UBND Thành phố",
                                        "title": "Thông báo kiểm thử phân quyền"}, headers=admin)
    assert r.status == 201, r
    shared = _task(srv, admin, ctx["ward"], "Nhiệm vụ dùng chung")
    r = srv.post(f"/api/v1/tasks/{shared}/reports",
                 {"percent": 10, "text": "Khởi động", "files": [
                     {"name": "bien-ban.txt", "content_type": "text/plain",
                      "data": base64.b64encode(EVIDENCE).decode()}]}, headers=admin)
    assert r.status == 201, r
    ctx["task"] = shared
    ctx["sha"] = hashlib.sha256(EVIDENCE).hexdigest()
    ctx["move"], ctx["ask"], ctx["decide"] = {}, {}, {}
    for role in ROLES:
        ctx["move"][role] = _task(srv, admin, ctx["ward"], "Chuyển trạng thái " + role)
        ctx["ask"][role] = _task(srv, admin, ctx["ward"], "Xin gia hạn " + role)
        decide = _task(srv, admin, ctx["ward"], "Duyệt gia hạn " + role)
        r = srv.post(f"/api/v1/tasks/{decide}/extensions", {"deadline": "2027-03-31", "reason": "Chờ vốn"},
                     headers=admin)
        assert r.status == 201, r
        ctx["decide"][role] = decide


def samples(role, ctx):
    task = ctx.get("task", 1)
    move = ctx.get("move", {}).get(role, 1)
    ask = ctx.get("ask", {}).get(role, 1)
    decide = ctx.get("decide", {}).get(role, 1)
    new_task = {"title": "Nhiệm vụ mới " + role, "lead": "DAE", "unit": ctx["ward"], "deadline": "2026-06-30"}
    return {
        ("GET", "/api/v1/directives"): ("/api/v1/directives", None, 200),
        ("POST", "/api/v1/directives"): ("/api/v1/directives", {"number": "PERM-" + role, "date": "2025-08-01",
                                                                "issuer": "UBND", "title": "Kiểm thử"}, 201),
        ("GET", "/api/v1/tasks"): ("/api/v1/tasks", None, 200),
        ("POST", "/api/v1/tasks"): ("/api/v1/tasks", new_task, 201),
        ("GET", "/api/v1/tasks/stats"): ("/api/v1/tasks/stats", None, 200),
        ("POST", "/api/v1/tasks/stats"): ("/api/v1/tasks/stats", None, 200),
        ("GET", "/api/v1/tasks/{id}"): (f"/api/v1/tasks/{task}", None, 200),
        ("PATCH", "/api/v1/tasks/{id}"): (f"/api/v1/tasks/{move}", {"status": "in_progress"},
                                          403 if role == "analyst" else 200),
        ("GET", "/api/v1/tasks/{id}/reports"): (f"/api/v1/tasks/{task}/reports", None, 200),
        ("POST", "/api/v1/tasks/{id}/reports"): (f"/api/v1/tasks/{task}/reports", {"percent": 20, "text": "Tiến độ"},
                                                 201),
        ("GET", "/api/v1/tasks/{id}/evidence/{sha256}"): (f"/api/v1/tasks/{task}/evidence/{ctx.get('sha', '0')}",
                                                          None, 200),
        ("POST", "/api/v1/tasks/{id}/extensions"): (f"/api/v1/tasks/{ask}/extensions",
                                                    {"deadline": "2027-06-30", "reason": "Vướng mặt bằng"}, 201),
        ("POST", "/api/v1/tasks/{id}/extensions/{n}/approve"): (f"/api/v1/tasks/{decide}/extensions/0/approve",
                                                                {"approve": True}, 200),
    }
