"""Users, API tokens, sessions and the audit trail through the real binary: passwords on standard input,
tokens printed alone, revocation over HTTP, `databrain audit verify` on an intact trail and after hand
edits of the audit table (a changed detail, a deleted record, two records swapped), logins with the
session cookie and its CSRF token, /api/v1/me for every role, and /api/v1/audit."""
import re
import shutil
import sqlite3
import subprocess

import pytest

from server import Server, make_store, run_cli

TOKEN_RE = re.compile(r"^dbt_[A-Za-z0-9_-]{43}\n$")
ROLES = ["public", "analyst", "reporter", "leader", "steward", "admin"]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def add_user(store, name, role, password="correct horse", *extra):
    return run_cli(store, "user", "add", name, "--role", role, *extra, input=password + "\n")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A store with the synthetic demo city (agencies DOET, DOH…; wards 90001…)."""
    return make_store(str(tmp_path_factory.mktemp("auth")), demo=True)


@pytest.fixture(scope="module")
def srv(city):
    """A server on the demo city with one user per role (password "pw-" + role)."""
    for role in ROLES:
        extra = ["--agency", "DOET", "--scope", "90001"] if role == "reporter" else []
        add_user(city, "u-" + role, role, "pw-" + role + "-long", *extra)
    s = Server(city)
    yield s
    s.stop()


def copy_store(store, dest):
    """A consistent copy of a store (its WAL included) made with SQLite's backup API."""
    src, dst = sqlite3.connect(store), sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.close()
    return dest


def login(srv, name, password, **kw):
    return srv.post("/api/v1/login", {"name": name, "password": password}, **kw)


def session_of(r):
    """The databrain_session value of a login answer's Set-Cookie."""
    m = re.match(r"databrain_session=([^;]*);", r.header("Set-Cookie"))
    assert m, r.header("Set-Cookie")
    return m.group(1)


# ---- the command line ----

def test_user_add_reads_the_password_from_stdin(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    r = add_user(store, "lan", "reporter", "s3cret words", "--agency", "DOET", "--scope", "79")
    assert r.stdout == "" and r.stderr == "user lan added (reporter)\n"
    # CRLF line ends are not part of the password
    r = run_cli(store, "user", "add", "minh", "--role", "analyst", input="another secret\r\nignored\n")
    assert r.returncode == 0
    # no password, a short one, a taken name, a reporter without agency, unknown codes
    for args, stdin, code, err in [
        (["nobody", "--role", "analyst"], "", 3, "databrain user add: no password on standard input (one line of 8 to 1024 bytes)\n"),
        (["nobody", "--role", "analyst"], "short\n", 3, "password: a password has 8 to 1024 bytes\n"),
        (["lan", "--role", "analyst"], "long enough\n", 3, "name: user 'lan' already exists\n"),
        (["rep", "--role", "reporter"], "long enough\n", 3, "agency: a reporter needs an agency (--agency CODE)\n"),
        (["rep", "--role", "reporter", "--agency", "NOPE", "--scope", "1"], "long enough\n", 3,
         "agency: unknown agency 'NOPE'\nscope: unknown org unit '1'\n"),
        (["rep", "--role", "root"], "long enough\n", 2, None),
        (["rep"], "long enough\n", 2, None),
        (["rep", "--role", "analyst", "--password", "x"], "", 2, None),
    ]:
        r = run_cli(store, "user", "add", *args, input=stdin, check=False)
        assert r.returncode == code, (args, r.stderr)
        if err is not None:
            assert r.stderr == err, args
    with Server(store) as s:
        assert login(s, "lan", "s3cret words").status == 200
        assert login(s, "minh", "another secret").status == 200
        assert login(s, "minh", "another secret\r").status == 401
    # a new password replaces the old; a disabled user cannot log in
    run_cli(store, "user", "passwd", "lan", input="new secret words\n")
    assert run_cli(store, "user", "passwd", "ghost", input="new secret words\n", check=False).returncode == 4
    run_cli(store, "user", "disable", "minh")
    with Server(store) as s:
        assert login(s, "lan", "s3cret words").status == 401
        assert login(s, "lan", "new secret words").status == 200
        assert login(s, "minh", "another secret").status == 401
    # the password never reaches the store or the trail in clear
    with open(store, "rb") as f:
        assert b"s3cret words" not in f.read()
    assert "s3cret" not in run_cli(store, "audit", "list").stdout


def test_token_create_prints_only_the_token(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    r = run_cli(store, "token", "create", "--role", "reporter", "--agency", "DOET", "--scope", "90001",
                "--expires", "30", "--label", "schools, nightly")
    assert TOKEN_RE.match(r.stdout), r.stdout
    assert r.stderr == "token 1 created (reporter); it is shown only now\n"
    quiet = run_cli(store, "-q", "token", "create", "--role", "analyst")
    assert TOKEN_RE.match(quiet.stdout) and quiet.stderr == ""
    assert quiet.stdout != r.stdout
    listing = run_cli(store, "token", "list").stdout
    lines = listing.splitlines()
    assert lines[0] == "id,label,role,agency,scope,created,expires,state"
    assert re.match(r'^1,"schools, nightly",reporter,DOET,90001,\d{4}-\d\d-\d\dT[\d:.]+Z,\d{4}-\d\d-\d\dT[\d:.]+Z,active$',
                    lines[1]), lines[1]
    assert re.match(r"^2,,analyst,,,[^,]+,,active$", lines[2]), lines[2]
    assert r.stdout.strip() not in listing and quiet.stdout.strip() not in listing
    for args in (["--role", "reporter"], ["--role", "analyst", "--agency", "NOPE"]):
        bad = run_cli(store, "token", "create", *args, check=False)
        assert bad.returncode == 3 and bad.stdout == ""
    for args in (["--role", "analyst", "--expires", "0"], ["--role", "analyst", "--expires", "x"], ["--role", "god"], []):
        bad = run_cli(store, "token", "create", *args, check=False)
        assert bad.returncode == 2 and bad.stdout == "", args


def test_revoked_token_gets_401(tmp_path):
    store = make_store(str(tmp_path), demo=True)
    token = run_cli(store, "token", "create", "--role", "analyst").stdout.strip()
    with Server(store) as s:
        r = s.get("/api/v1/me", headers=bearer(token))
        assert r.status == 200 and r.json() == {"name": "token:1", "role": "analyst", "agency": None, "scope": None}
        r = run_cli(store, "token", "revoke", "1")
        assert r.stderr == "token 1 revoked\n"
        p = s.get("/api/v1/me", headers=bearer(token))
        assert p.status == 401 and p.problem()["detail"] == "the bearer token is unknown, expired or revoked"
        assert s.get("/api/v1/indicators", headers=bearer(token)).status == 401
    assert run_cli(store, "token", "list").stdout.splitlines()[1].endswith(",revoked")
    r = run_cli(store, "token", "revoke", "7", check=False)
    assert r.returncode == 4 and r.stderr == "no token 7\n"
    assert run_cli(store, "token", "revoke", "x", check=False).returncode == 2


# ---- the audit trail ----

@pytest.fixture
def trail(tmp_path):
    """A store whose trail holds 5 records: user add, two logins (one failed), token create, revoke."""
    store = make_store(str(tmp_path))
    add_user(store, "lan", "admin")
    with Server(store) as s:
        assert login(s, "lan", "correct horse").status == 200
        assert login(s, "lan", "wrong horse").status == 401
    run_cli(store, "token", "create", "--role", "analyst")
    run_cli(store, "token", "revoke", "1")
    return store


def verify(store):
    return run_cli(store, "audit", "verify", check=False)


def test_audit_list_and_verify_intact(trail):
    r = verify(trail)
    assert (r.returncode, r.stdout, r.stderr) == (0, "audit trail intact: 5 records\n", "")
    rows = [line.split(",") for line in run_cli(trail, "audit", "list").stdout.splitlines()]
    assert rows[0] == ["id", "time", "actor", "action", "object", "detail", "prev_hash", "hash"]
    assert [(r[0], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("1", "cli", "user.add", "user:lan"), ("2", "lan", "user.login", "user:lan"),
        ("3", "lan", "user.login_failed", "user:lan"), ("4", "cli", "token.create", "token:1"),
        ("5", "cli", "token.revoke", "token:1")]
    listing = run_cli(trail, "audit", "list", "--after", "2").stdout
    assert '"{""from"":""127.0.0.1"",""reason"":""wrong password""}"' in listing
    assert [line.split(",")[0] for line in listing.splitlines()[1:]] == ["3", "4", "5"]
    # every record links to the one before it
    db = sqlite3.connect(trail)
    links = db.execute("SELECT prev_hash, hash FROM audit ORDER BY id").fetchall()
    assert links[0][0] == "0" * 64
    assert all(links[i][0] == links[i - 1][1] for i in range(1, len(links)))
    # the table itself refuses changes
    with pytest.raises(sqlite3.IntegrityError, match="the audit trail is append-only"):
        db.execute("UPDATE audit SET detail = NULL WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError, match="the audit trail is append-only"):
        db.execute("DELETE FROM audit WHERE id = 5")
    db.close()


UNGUARD = "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"


@pytest.mark.parametrize("edit, message", [
    ("UPDATE audit SET detail = '{\"from\":\"10.1.1.1\"}' WHERE id = 2",
     "record 2 was edited: its content does not match its hash"),
    ("UPDATE audit SET actor = 'someone' WHERE id = 4",
     "record 4 was edited: its content does not match its hash"),
    ("DELETE FROM audit WHERE id = 3",
     "record 3 was deleted: the records go from 2 to 4"),
    ("DELETE FROM audit WHERE id = 5",
     "records 5 to 5 were deleted from the end of the trail"),
    # records 2 and 4 exchange everything but their ids
    ("CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (2, 4);"
     "UPDATE audit SET (time_ms, actor, action, object, detail, prev_hash, hash) ="
     " (SELECT time_ms, actor, action, object, detail, prev_hash, hash FROM t WHERE t.id = 6 - audit.id)"
     " WHERE id IN (2, 4)",
     "record 2 does not follow record 1 in the chain: records were reordered, or record 1 was rewritten"),
    # only their contents
    ("CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (2, 4);"
     "UPDATE audit SET (time_ms, actor, action, object, detail) ="
     " (SELECT time_ms, actor, action, object, detail FROM t WHERE t.id = 6 - audit.id) WHERE id IN (2, 4)",
     "record 2 was edited: its content does not match its hash"),
], ids=["detail", "actor", "deleted", "deleted-last", "swapped", "swapped-content"])
def test_audit_verify_names_the_edited_record(trail, tmp_path, edit, message):
    copy = copy_store(trail, str(tmp_path / "edited.db"))
    db = sqlite3.connect(copy)
    db.executescript(UNGUARD + edit)
    db.close()
    r = verify(copy)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "audit trail broken: " + message + "\n")
    # the original is untouched
    assert verify(trail).returncode == 0


# ---- sessions over HTTP ----

def test_login_sets_a_strict_http_only_cookie(srv):
    r = login(srv, "u-steward", "pw-steward-long")
    assert r.status == 200
    body = r.json()
    assert set(body) == {"name", "role", "agency", "scope", "csrf"}
    assert (body["name"], body["role"], body["agency"], body["scope"]) == ("u-steward", "steward", None, None)
    assert re.match(r"^[A-Za-z0-9_-]{43}$", body["csrf"])
    cookie = r.header("Set-Cookie")
    assert re.match(r"^databrain_session=dbs_[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200$",
                    cookie), cookie
    assert "Secure" not in cookie
    assert r.header("Cache-Control") == "no-store"
    session = session_of(r)
    me = srv.get("/api/v1/me", headers={"Cookie": "databrain_session=" + session})
    assert me.json() == body


def test_wrong_credentials_are_401_and_say_nothing_more(srv):
    answers = [login(srv, "u-steward", "wrong password"), login(srv, "nobody", "pw-steward-long"),
               login(srv, "bad name!", "pw-steward-long")]
    for r in answers:
        p = r.problem()
        assert r.status == 401 and r.header("Set-Cookie") is None
        assert (p["title"], p["detail"]) == ("Login failed", "wrong name or password")
    assert answers[0].body == answers[1].body == answers[2].body


@pytest.mark.parametrize("body, ctype, status, paths", [
    (b'{"name": "u-admin"}', "application/json", 400, ["$.password"]),
    (b'{"name": "u-admin", "password": 5, "remember": true}', "application/json", 400, ["$.password", "$.remember"]),
    (b'{"name": "u-admin", "password": "a\\u0000b"}', "application/json", 400, ["$"]),
    (b'["u-admin", "pw"]', "application/json", 400, ["$"]),
    (b'{"name": "u-admin", "name": "x", "password": "p"}', "application/json", 400, ["$"]),
    (b"{", "application/json", 400, ["$"]),
    (b"name=u-admin&password=x", "application/x-www-form-urlencoded", 415, ["Content-Type"]),
])
def test_login_bad_bodies(srv, body, ctype, status, paths):
    r = srv.post("/api/v1/login", body, headers={"Content-Type": ctype})
    p = r.problem()
    assert r.status == status and [e["path"] for e in p["errors"]] == paths, p


def test_csrf_token_guards_unsafe_methods(srv):
    r = login(srv, "u-steward", "pw-steward-long")
    cookie = {"Cookie": "databrain_session=" + session_of(r)}
    csrf = r.json()["csrf"]
    row = [{"indicator": "SCHOOLS", "orgunit": "90001", "period": "2027-01", "value": 30}]
    p = srv.post("/api/v1/data", row, headers=cookie)
    assert p.status == 403
    assert p.problem()["detail"] == "an unsafe method from a session needs the X-CSRF-Token header"
    p = srv.post("/api/v1/data", row, headers=dict(cookie, **{"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}))
    assert p.status == 403 and p.problem()["detail"] == "the X-CSRF-Token header does not match the session"
    ok = srv.post("/api/v1/data", row, headers=dict(cookie, **{"X-CSRF-Token": csrf}))
    assert ok.status == 201 and ok.json()["inserted"] == 1
    # safe methods need no token
    assert srv.get("/api/v1/me", headers=cookie).json()["role"] == "steward"
    # logout is unsafe too; then the cookie is cleared and worth nothing
    assert srv.post("/api/v1/logout", headers=cookie).status == 403
    out = srv.post("/api/v1/logout", headers=dict(cookie, **{"X-CSRF-Token": csrf}))
    assert out.status == 204
    assert out.header("Set-Cookie") == "databrain_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    assert srv.get("/api/v1/me", headers=cookie).json()["role"] == "public"
    assert srv.post("/api/v1/data", row, headers=dict(cookie, **{"X-CSRF-Token": csrf})).status == 401


def test_me_for_every_role_by_session_and_by_token(srv, city):
    anonymous = srv.get("/api/v1/me")
    assert anonymous.status == 200
    assert anonymous.json() == {"name": "anonymous", "role": "public", "agency": None, "scope": None}
    for role in ROLES:
        agency, scope = ("DOET", "90001") if role == "reporter" else (None, None)
        r = login(srv, "u-" + role, "pw-" + role + "-long")
        assert r.status == 200, role
        me = srv.get("/api/v1/me", headers={"Cookie": "databrain_session=" + session_of(r)}).json()
        assert me == {"name": "u-" + role, "role": role, "agency": agency, "scope": scope, "csrf": r.json()["csrf"]}
        token = srv.token(role, agency=agency, scope=scope)
        me = srv.get("/api/v1/me", headers=bearer(token)).json()
        assert me["role"] == role and me["agency"] == agency and me["scope"] == scope
        assert re.match(r"^token:\d+$", me["name"]) and "csrf" not in me


def test_audit_route_is_for_admins(srv):
    admin = bearer(srv.token("admin"))
    first = srv.get("/api/v1/audit?limit=2", headers=admin)
    assert first.status == 200
    page = first.json()
    assert [r["id"] for r in page["records"]] == [1, 2] and page["next_after"] == 2
    rec = page["records"][0]
    assert set(rec) == {"id", "time", "time_ms", "actor", "action", "object", "detail", "prev_hash", "hash"}
    assert rec["prev_hash"] == "0" * 64 and page["records"][1]["prev_hash"] == rec["hash"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", rec["time"])
    everything = srv.get("/api/v1/audit?after=0&limit=1000", headers=admin).json()
    assert everything["next_after"] is None
    ids = [r["id"] for r in everything["records"]]
    assert ids == list(range(1, len(ids) + 1))
    added = [r for r in everything["records"] if r["object"] == "user:u-reporter"][0]
    assert (added["actor"], added["action"]) == ("cli", "user.add")
    assert added["detail"] == {"role": "reporter", "agency": "DOET", "scope": "90001"}
    nxt = srv.get("/api/v1/audit?after=2&limit=1", headers=admin).json()
    assert [r["id"] for r in nxt["records"]] == [3] and nxt["next_after"] == 3
    logins = [r for r in everything["records"] if r["action"] == "user.login_failed"]
    assert logins and all(r["detail"]["from"] == "127.0.0.1" for r in logins)
    for query, param in [("limit=0", "limit"), ("limit=1001", "limit"), ("after=-1", "after"), ("after=x", "after")]:
        p = srv.get("/api/v1/audit?" + query, headers=admin)
        assert p.status == 400 and [e["path"] for e in p.problem()["errors"]] == [param], query
    for role in ("steward", "analyst", "reporter"):
        agency = "DOET" if role == "reporter" else None
        assert srv.get("/api/v1/audit", headers=bearer(srv.token(role, agency=agency))).status == 403, role
    assert srv.get("/api/v1/audit").status == 401


def test_session_cookie_is_secure_under_tls(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    store = make_store(str(tmp_path))
    add_user(store, "lan", "analyst")
    with Server(store, tls=(cert, key)) as s:
        r = login(s, "lan", "correct horse")
        assert r.status == 200 and r.header("Set-Cookie").endswith("; Max-Age=43200; Secure")
