"""The HTTP server core through the real binary on 127.0.0.1: operations routes, the OpenAPI document
against routes.def, problems for unknown paths, wrong methods and malformed targets, limits (body size,
idle clients, request rate), graceful shutdown, TLS and conditional GETs."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from server import BIN, Server, demo_server, make_store, route_table as routes, run_cli  # noqa: F401


def raw(srv, request, read_timeout=10):
    """Sends raw bytes on a new connection and returns (status, headers dict lowercased, body bytes)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=read_timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def assert_problem(r, status, title, detail=None):
    p = r.problem()
    assert r.status == status, r
    assert p["status"] == status and p["title"] == title, p
    assert p["type"] == "https://databrain.dev/problems/" + title.replace(" ", "-")
    assert isinstance(p["errors"], list)
    if detail is not None:
        assert p["detail"] == detail, p
    return p


def metric(text, name, **labels):
    """The value of one sample of the Prometheus text, or None."""
    want = ",".join('%s="%s"' % (k, v) for k, v in labels.items())
    line_re = re.compile(r"^%s(\{%s\})? (\S+)$" % (re.escape(name), re.escape(want)) if want
                         else r"^%s (\S+)$" % re.escape(name))
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            return float(m.groups()[-1])
    return None


# ---- operations routes ----

def test_health_and_ready(demo_server):
    r = demo_server.get("/healthz")
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    assert r.json() == {"status": "ok"}
    r = demo_server.get("/readyz")
    init = subprocess.run([BIN, "--store", "sqlite:" + demo_server.store, "init"], capture_output=True, text=True)
    version = int(re.search(r"schema version (\d+)", init.stdout).group(1))
    assert r.status == 200 and r.json() == {"status": "ready", "schema_version": version}
    r = demo_server.request("HEAD", "/healthz")
    assert r.status == 200 and r.body == b""


def test_metrics(demo_server):
    for _ in range(3):
        assert demo_server.get("/healthz").status == 200
    assert demo_server.get("/nowhere").status == 404
    r = demo_server.get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    text = r.text
    assert metric(text, "http_requests_total", route="/healthz", method="GET", status="200") >= 3
    assert metric(text, "http_requests_total", route="unmatched", method="GET", status="404") >= 1
    count = metric(text, "http_request_duration_seconds_count", route="/healthz")
    assert count >= 3
    assert metric(text, "http_request_duration_seconds_bucket", route="/healthz", le="+Inf") == count
    assert metric(text, "http_request_duration_seconds_sum", route="/healthz") > 0
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert metric(text, "databrain_rows_ingested_total") is not None
    assert metric(text, "databrain_store_bytes") == os.path.getsize(demo_server.store)
    assert metric(text, "process_resident_memory_bytes") > 1 << 20
    assert metric(text, "databrain_memory_allocated_bytes") > 0
    # every sample line is name{labels} value
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$', line), line


def test_metrics_count_rows_ingested(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    with Server(store) as srv:
        auth = {"Authorization": "Bearer " + srv.token("admin"), "Content-Type": "text/csv"}
        before = metric(srv.get("/metrics").text, "databrain_rows_ingested_total")
        assert before == 0
        csv = "indicator,orgunit,period,value\nPOPULATION,79,2026,13000000\nPOPULATION,79,2027,13100000\n"
        # (the statuses of the data route are its own tests' business: here only success matters)
        assert srv.post("/api/v1/data", csv, headers=auth).status // 100 == 2
        # a batch replayed by its idempotency key, or refused, adds nothing
        keyed = {**auth, "Idempotency-Key": "k1"}
        assert srv.post("/api/v1/data", csv.replace("2026", "2028").replace("2027", "2029"), headers=keyed).status // 100 == 2
        assert srv.post("/api/v1/data", csv.replace("2026", "2028").replace("2027", "2029"), headers=keyed).status // 100 == 2
        assert srv.post("/api/v1/data", "indicator,orgunit,period,value\nNOPE,79,2026,1\n", headers=auth).status == 400
        assert metric(srv.get("/metrics").text, "databrain_rows_ingested_total") == 4


def test_openapi_matches_route_table(demo_server):
    r = demo_server.get("/api/v1/openapi.json")
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    table = routes()
    # routes.def and the files it includes: every resource's routes are there
    assert {tag for _, _, _, _, tag, _ in table} == {"operations", "auth", "catalog", "data", "analytics", "audit",
                                                     "quality", "tasks", "forecast", "alerts"}
    got = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    assert got == {(pattern, method) for method, pattern, *_ in table}
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                     "description": "An API token (databrain token create)"}
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "databrain_session"
    for method, pattern, handler, perm, tag, summary in table:
        op = doc["paths"][pattern][method.lower()]
        assert op["operationId"] == handler
        assert op["summary"] == summary and op["tags"] == [tag]
        assert op["x-permission"] == perm[len("DB_PERM_"):].lower()
        names = re.findall(r"\{(\w+)\}", pattern)
        assert [(p["name"], p["in"], p["required"]) for p in op.get("parameters", [])] == \
            [(n, "path", True) for n in names]
        anonymous = {} in op["security"]
        assert anonymous == (perm == "DB_PERM_PUBLIC"), (pattern, method)
        assert {"bearerAuth": []} in op["security"] and {"cookieAuth": []} in op["security"]
        assert op["responses"]["400"] == {"$ref": "#/components/responses/Problem"}
        assert ("403" in op["responses"]) == (perm != "DB_PERM_PUBLIC")
    problem = doc["components"]["responses"]["Problem"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


# ---- problems for unknown paths, wrong methods, malformed targets ----

def test_not_found_and_method_not_allowed(demo_server):
    assert_problem(demo_server.get("/api/v1/nothing"), 404, "not found", "no route matches this path")
    assert_problem(demo_server.get("/healthz/"), 404, "not found")
    r = demo_server.request("DELETE", "/healthz")
    assert_problem(r, 405, "method not allowed", "DELETE is not allowed here; allowed: GET, HEAD")
    assert r.header("Allow") == "GET, HEAD"
    r = demo_server.request("PATCH", "/api/v1/indicators/CPI_YOY")
    assert_problem(r, 405, "method not allowed")
    assert r.header("Allow") == "GET, HEAD, PUT, DELETE"
    r = demo_server.get("/api/v1/login")
    assert r.status == 405 and r.header("Allow") == "POST"


@pytest.mark.parametrize("target,detail", [
    ("/api/v1/indicators/%zz", "bad percent-encoding at byte 20 of the path ('%' must be followed by two hex digits)"),
    ("/api/v1/indicators/CPI%2", "bad percent-encoding at byte 23 of the path ('%' must be followed by two hex digits)"),
    ("/api/v1/indicators?q=%G0", "bad percent-encoding at byte 3 of the query ('%' must be followed by two hex digits)"),
    ("/api/v1/indicators/a%00b", "NUL byte at byte 21 of the path"),
    ("/api/v1/../../etc/passwd", "path traversal ('..' segment) in path segment 3"),
    ("/api/v1/%2E%2E/x", "path traversal ('..' segment) in path segment 3"),
    ("/api/v1/orgunits/%2e", "path traversal ('.' segment) in path segment 4"),
    ("/api//v1/indicators", "empty path segment ('//') at byte 6 of the path"),
    ("/api/v1/indicators/a%2Fb", "encoded slash ('%2F') in path segment 4"),
    ("/api/v1/indicators/%C3%28", "invalid UTF-8 at byte 20 of the path"),
    ("/api/v1/indicators?q=%C0%AF", "invalid UTF-8 at byte 3 of the query"),
    ("/api/v1/indicators?=x", "query parameter without a name at byte 1 of the query"),
])
def test_malformed_targets(demo_server, target, detail):
    status, headers, body = raw(demo_server, b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    p = json.loads(body)
    assert p == {"type": "https://databrain.dev/problems/bad-request-target", "title": "bad request target",
                 "status": 400, "detail": detail, "errors": []}


def test_raw_invalid_utf8_in_path(demo_server):
    status, headers, body = raw(demo_server, b"GET /api/v1/orgunits/\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400 and json.loads(body)["detail"] == "invalid UTF-8 at byte 18 of the path"


def test_authentication_errors(demo_server):
    r = demo_server.get("/api/v1/audit")
    assert_problem(r, 401, "unauthorized", "this route needs an API token or a session")
    assert r.header("WWW-Authenticate") == "Bearer"
    # a forged or malformed bearer token is refused, never treated as anonymous, even on public routes
    r = demo_server.get("/healthz", headers={"Authorization": "Bearer dbt_forged"})
    assert_problem(r, 401, "unauthorized", "the bearer token is unknown, expired or revoked")
    r = demo_server.get("/healthz", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert_problem(r, 401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
    # an unknown session cookie leaves the caller anonymous
    r = demo_server.get("/api/v1/audit", headers={"Cookie": "databrain_session=dbs_unknown"})
    assert_problem(r, 401, "unauthorized")


def test_permissions_by_role(demo_server):
    admin, analyst = demo_server.token("admin"), demo_server.token("analyst")
    assert demo_server.get("/api/v1/audit", headers={"Authorization": "Bearer " + admin}).status == 200
    r = demo_server.get("/api/v1/audit", headers={"Authorization": "Bearer " + analyst})
    assert_problem(r, 403, "forbidden", "the role analyst may not do this")
    # the scheme name is case-insensitive
    assert demo_server.get("/api/v1/audit", headers={"Authorization": "bearer " + admin}).status == 200


def login(srv, name, password):
    """Logs in; returns (session cookie value, csrf token)."""
    r = srv.post("/api/v1/login", {"name": name, "password": password})
    assert r.status == 200, r
    cookie = r.header("Set-Cookie")
    session = re.match(r"databrain_session=([^;]+);", cookie).group(1)
    return session, r.json()["csrf"]


def test_session_needs_csrf_token_for_unsafe_methods(demo_server):
    run_cli(demo_server.store, "user", "add", "hoa", "--role", "steward", input="correct horse battery\n")
    session, csrf = login(demo_server, "hoa", "correct horse battery")
    cookie = {"Cookie": "databrain_session=" + session}
    # safe methods need no CSRF token
    r = demo_server.get("/api/v1/me", headers=cookie)
    assert r.status == 200 and r.json()["name"] == "hoa" and r.json()["role"] == "steward"
    # unsafe ones do, and it must match the session's
    body = {"code": "X"}
    r = demo_server.post("/api/v1/agencies", body, headers=cookie)
    assert_problem(r, 403, "forbidden", "an unsafe method from a session needs the X-CSRF-Token header")
    r = demo_server.post("/api/v1/agencies", body, headers={**cookie, "X-CSRF-Token": csrf[:-1] + "x"})
    assert_problem(r, 403, "forbidden", "the X-CSRF-Token header does not match the session")
    r = demo_server.request("DELETE", "/api/v1/indicators/NOPE", headers=cookie)
    assert_problem(r, 403, "forbidden")
    r = demo_server.post("/api/v1/logout", headers={**cookie, "X-CSRF-Token": csrf})
    assert r.status == 204
    # the session is over: the same cookie is anonymous now
    assert demo_server.get("/api/v1/audit", headers=cookie).status == 401


def test_rate_limit_per_token(tmp_path):
    store = make_store(str(tmp_path))
    with Server(store, "--rate-per-token", "3", "--rate-per-address", "100") as srv:
        auth = {"Authorization": "Bearer " + srv.token("analyst")}
        statuses = [srv.get("/api/v1/me", headers=auth).status for _ in range(6)]
        assert statuses[:3] == [200] * 3 and statuses[3:] == [429] * 3
        # anonymous callers from the same address have their own bucket
        assert srv.get("/api/v1/me").status == 200
        # and another token its own
        assert srv.get("/api/v1/me", headers={"Authorization": "Bearer " + srv.token("analyst")}).status == 200


# ---- limits ----

def test_oversized_body(tmp_path):
    store = make_store(str(tmp_path))
    with Server(store, "--max-body", "1000") as srv:
        # declared too large: answered before the body is read, and the connection is closed
        status, headers, body = raw(srv, b"POST /api/v1/data HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                                         b"Content-Length: 50000000\r\n\r\nindicator,orgunit")
        assert status == 413 and headers["content-type"] == "application/problem+json"
        assert json.loads(body)["detail"] == "the body (50000000 bytes) exceeds the limit of 1000 bytes"
        # a chunked body that grows beyond the limit
        chunk = b"%x\r\n%s\r\n" % (600, b"x" * 600)
        status, headers, body = raw(srv, b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                         b"Connection: close\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
        assert status == 413 and json.loads(body)["detail"] == "the body exceeds the limit of 1000 bytes"
        # the server still answers
        assert srv.get("/healthz").status == 200


def test_oversized_headers(demo_server):
    # beyond the limit (16 KiB by default): a problem
    status, headers, body = raw(demo_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                             b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert status == 431 and headers["content-type"] == "application/problem+json"
    p = json.loads(body)
    assert p["title"] == "request header fields too large"
    assert re.fullmatch(r"the request target and headers \(200\d\d bytes\) exceed the limit of 16384 bytes", p["detail"])
    # far beyond the connection's memory: libmicrohttpd refuses it and closes the connection
    status, headers, body = raw(demo_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    assert status == 431
    assert demo_server.get("/healthz").status == 200


def test_slow_client_is_dropped(tmp_path):
    store = make_store(str(tmp_path))
    with Server(store, "--timeout", "2", "--threads", "1") as srv:
        slow = socket.create_connection(("127.0.0.1", srv.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: ")
        started = time.time()
        # others are served meanwhile, on the same single worker thread
        for _ in range(5):
            t = time.time()
            assert srv.get("/healthz").status == 200
            assert time.time() - t < 1
        slow.settimeout(10)
        assert slow.recv(100) == b""  # closed by the server
        waited = time.time() - started
        assert 1.5 <= waited < 6, waited
        slow.close()
        assert srv.get("/healthz").status == 200


def test_rate_limit_per_address(tmp_path):
    store = make_store(str(tmp_path))
    with Server(store, "--rate-per-address", "5") as srv:
        conn = srv.connection()
        statuses = [srv.request("GET", "/healthz", conn=conn) for _ in range(12)]
        conn.close()
        assert [r.status for r in statuses[:5]] == [200] * 5
        limited = [r for r in statuses if r.status == 429]
        assert len(limited) >= 5
        r = limited[0]
        assert_problem(r, 429, "too many requests", "more than 5 requests per second; retry in 1 s")
        assert r.header("Retry-After") == "1"
        time.sleep(1.2)
        assert srv.get("/healthz").status == 200


# ---- shutdown ----

def test_sigterm_lets_in_flight_request_finish(tmp_path):
    store = make_store(str(tmp_path))
    srv = Server(store)
    try:
        busy = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        busy.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")  # headers not finished: in flight
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None  # still waiting for the request in flight
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
        busy.sendall(b"Connection: keep-alive\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = busy.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ")
        assert b"Connection: close" in data
        assert re.search(rb'\r\n\r\n\{"status":"ready","schema_version":\d+\}$', data), data
        busy.close()
        assert srv.proc.wait(10) == 0
        assert "finishing the requests in flight" in srv.stderr()
    finally:
        srv.stop()


def test_second_sigterm_stops_at_once(tmp_path):
    store = make_store(str(tmp_path))
    srv = Server(store)
    try:
        stuck = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        stuck.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None
        started = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(10) == 0
        assert time.time() - started < 3
        assert "second stop signal: closing 1 requests in flight" in srv.stderr()
        stuck.close()
    finally:
        srv.stop()


# ---- TLS ----

def test_tls(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    store = make_store(str(tmp_path))
    with Server(store, tls=(cert, key)) as srv:
        assert srv.base.startswith("https://")
        r = srv.get("/healthz")
        assert r.status == 200 and r.json() == {"status": "ok"}
        assert_problem(srv.get("/api/v1/x%zz"), 400, "bad request target")
        # plain HTTP on the TLS port gets no HTTP answer
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/1.1 200")


def test_tls_bad_files(tmp_path):
    store = make_store(str(tmp_path))
    serve = [BIN, "--store", "sqlite:" + store, "serve", "--listen", "127.0.0.1:0"]
    proc = subprocess.run(serve + ["--tls-cert", "x.pem"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--tls-cert and --tls-key go together" in proc.stderr
    proc = subprocess.run(serve + ["--tls-cert", str(tmp_path / "no.pem"), "--tls-key", str(tmp_path / "no.pem")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "no.pem: No such file or directory" in proc.stderr
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    proc = subprocess.run(serve + ["--tls-cert", str(junk), "--tls-key", str(junk)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1
    assert "cannot serve on 127.0.0.1:0 (address in use or not allowed, or a bad TLS certificate or key)" in proc.stderr


# ---- conditional GET ----

def test_etag_and_not_modified(demo_server):
    r = demo_server.get("/api/v1/openapi.json")
    etag = r.header("ETag")
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag)
    assert demo_server.get("/api/v1/openapi.json").header("ETag") == etag  # same body, same tag
    r2 = demo_server.get("/api/v1/openapi.json", headers={"If-None-Match": etag})
    assert r2.status == 304 and r2.body == b"" and r2.header("ETag") == etag
    r3 = demo_server.get("/api/v1/openapi.json", headers={"If-None-Match": '"0000000000000000", W/' + etag})
    assert r3.status == 304
    r4 = demo_server.get("/api/v1/openapi.json", headers={"If-None-Match": '"0000000000000000"'})
    assert r4.status == 200 and r4.body == r.body
    # errors carry no ETag
    assert demo_server.get("/nowhere").header("ETag") is None


def test_keep_alive_and_concurrency(demo_server):
    conn = demo_server.connection()
    for _ in range(20):
        assert demo_server.request("GET", "/healthz", conn=conn).status == 200
    conn.close()
    results = []

    def worker():
        c = demo_server.connection()
        for _ in range(10):
            results.append(demo_server.request("GET", "/readyz", conn=c).status)
        c.close()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 80


def test_listen_errors(tmp_path):
    store = make_store(str(tmp_path))
    with Server(store) as srv:
        proc = subprocess.run([BIN,
                               "--store", "sqlite:" + store, "serve", "--listen", "127.0.0.1:%d" % srv.port],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1 and "cannot serve on 127.0.0.1:%d (address in use or not allowed)" % srv.port in proc.stderr
    proc = subprocess.run([BIN,
                           "--store", "sqlite:" + store, "serve", "--listen", "nowhere"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "expected HOST:PORT" in proc.stderr
