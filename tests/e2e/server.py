"""Start and stop the real `databrain serve` for end-to-end tests, and talk HTTP to it.

Usage from a test module (only the Python standard library is used):

    from server import Server, make_store, demo_server   # demo_server is a pytest fixture

    def test_something(demo_server):                     # one server on the synthetic demo city, per module
        r = demo_server.get("/api/v1/indicators")
        assert r.status == 200 and r.json()["..."]

    def test_own_server(tmp_path):
        store = make_store(str(tmp_path), demo=True)     # `databrain init` (+ `databrain demo`)
        with Server(store, "--rate-per-address", "5") as srv:
            token = srv.token("admin")                   # `databrain token create --role admin`
            r = srv.request("POST", "/api/v1/data", body=b"...", headers={"Authorization": "Bearer " + token})

Server(store, *extra_args, tls=(cert, key) or None, env=None):
    starts `databrain --store sqlite:STORE serve --listen 127.0.0.1:PORT [--tls-cert C --tls-key K] EXTRA`
    on a free port and waits until it prints "listening on ..." (30 s at most; the server's stderr is
    kept in srv.log_path and shown when it fails to start).
    srv.port, srv.base ("http://127.0.0.1:PORT" or https), srv.proc (the Popen).
    srv.request(method, path, body=None, headers=None, timeout=30) -> Response; body may be bytes, str,
        or a dict/list (sent as JSON with Content-Type application/json). A new connection per call.
    srv.get(path, **kw), srv.post(path, body, **kw): shorthands.
    srv.connection(timeout=30): an http.client connection for keep-alive sequences (caller closes it).
    srv.token(role, agency=None, scope=None, expires=None): creates an API token with the CLI and returns it.
    srv.stop(sig=signal.SIGTERM, timeout=20) -> exit code (kills with SIGKILL after timeout); idempotent.
    As a context manager (`with Server(...) as srv:`), leaving the block stops the server and asserts
    that it exited 0 (under ASan: without leaks) unless the block raised.
    srv.kill(): SIGKILL, no wait for in-flight requests (crash tests).

Response: .status, .reason, .headers (case-insensitive lookups with .header(name)), .body (bytes),
    .text (str), .json() (parsed), .problem() (parsed, asserting Content-Type application/problem+json).
"""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

BIN = os.environ.get("DATABRAIN_BIN") or os.path.join(os.path.dirname(__file__), "../../build/databrain")

ROUTES_DEF = os.path.join(os.path.dirname(__file__), "../../src/http/routes.def")
_ROUTE = re.compile(r'^DB_ROUTE\((\w+), "([^"]+)", (\w+), (\w+), "([^"]*)", "((?:[^"\\]|\\.)*)"\)\s*$')
_INCLUDE = re.compile(r'^#include "http/(routes_\w+\.def)"\s*$')


def route_table(path=ROUTES_DEF):
    """(method, pattern, handler, perm, tag, summary) of every DB_ROUTE line of routes.def and of the files
    it includes, in the order the C preprocessor sees them."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("DB_ROUTE("):
                m = _ROUTE.match(line)
                assert m, line
                method, pattern, handler, perm, tag, summary = m.groups()
                out.append((method, pattern, handler, perm, tag, summary.replace('\\"', '"')))
            elif _INCLUDE.match(line):
                out += route_table(os.path.join(os.path.dirname(path), _INCLUDE.match(line).group(1)))
    return out


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(store, *args, input=None, check=True):
    """Runs `databrain --store sqlite:STORE ARGS`; returns the CompletedProcess (asserts exit 0 if check)."""
    proc = subprocess.run([BIN, "--store", "sqlite:" + store, *args], capture_output=True, text=True,
                          input=input, timeout=600)
    if check:
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def make_store(folder, demo=False):
    """Creates FOLDER/store.db with `databrain init` (and the synthetic city with `databrain demo`)."""
    store = os.path.join(folder, "store.db")
    run_cli(store, "init")
    if demo:
        run_cli(store, "demo")
    return store


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        """The value of a header (case-insensitive), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def problem(self):
        ct = self.header("Content-Type") or ""
        assert ct.startswith("application/problem+json"), (self.status, ct, self.body[:500])
        return self.json()

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.header("Content-Type"), self.body[:200])


class Server:
    def __init__(self, store, *extra, tls=None, env=None, start=True):
        self.store = store
        self.extra = list(extra)
        self.tls = tls
        self.env = env
        self.port = None
        self.proc = None
        self.log_path = store + ".serve.%d.log" % os.getpid()
        if start:
            self.start()

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def start(self):
        self.port = free_port()
        args = [BIN, "--store", "sqlite:" + self.store, "serve", "--listen", "127.0.0.1:%d" % self.port]
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        args += self.extra
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env)
        deadline = time.time() + 30
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"listening on "):
                assert line.strip().decode() == "listening on " + self.base, line
                return self
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        with open(self.log_path, "rb") as f:
            raise AssertionError("databrain serve did not start: %r; stderr:\n%s" % (line, f.read().decode(errors="replace")))

    def connection(self, timeout=30):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30, conn=None):
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.getheaders(), data)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def token(self, role, agency=None, scope=None, expires=None):
        """An API token made with `databrain token create` (printed alone on stdout)."""
        args = ["token", "create", "--role", role]
        if agency:
            args += ["--agency", agency]
        if scope:
            args += ["--scope", scope]
        if expires is not None:
            args += ["--expires", str(expires)]
        return run_cli(self.store, *args).stdout.strip()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def stderr(self):
        """What the server wrote on stderr so far."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        if exc_type is None:  # a clean stop exits 0 (under ASan, also: no leak)
            assert rc == 0, "databrain serve exited %r; stderr:\n%s" % (rc, self.stderr())


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """One server per test module on a fresh store holding the synthetic demo city."""
    store = make_store(str(tmp_path_factory.mktemp("serve")), demo=True)
    with Server(store) as srv:
        yield srv
