"""The permission matrix, generated from the route table: every route of src/http/routes.def × every role
(anonymous, and a token of each role) × in scope / out of scope for the routes that write data, each cell
asserting the exact status. A route added to routes.def without a sample request here fails the test, so
the matrix cannot silently fall behind the API.

The routes of each domain service (routes_<service>.def) get their samples from the module
perm_samples_<service>.py beside this file: its samples(role, ctx) returns more cells of the same form, and
its optional prepare(srv, tokens, ctx) creates, once, what those cells work on (ctx is a dict shared by
all providers, with "ward", "other_ward" and "own_indicator")."""
import glob
import importlib
import os

import pytest

from server import Server, make_store, route_table, run_cli
ROLES = ["anonymous", "public", "analyst", "reporter", "leader", "steward", "admin"]
GRANTS = {  # who holds each permission (auth.h)
    "DB_PERM_PUBLIC": set(ROLES),
    "DB_PERM_READ": {"analyst", "reporter", "leader", "steward", "admin"},
    "DB_PERM_WRITE_DATA": {"reporter", "steward", "admin"},
    "DB_PERM_WRITE_CATALOG": {"steward", "admin"},
    "DB_PERM_ADMIN": {"admin"},
    "DB_PERM_DIRECT": {"leader", "admin"},
    "DB_PERM_APPROVE": {"steward", "admin"},
}
WARD, OTHER_WARD = "90001", "90002"        # two wards of the synthetic demo city
OWN_INDICATOR = "WASTE_COLLECTED"           # owned by DAE, the reporter's agency


PROVIDERS = [importlib.import_module(os.path.basename(f)[:-3])
             for f in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "perm_samples_*.py")))]
CONTEXT = {"ward": WARD, "other_ward": OTHER_WARD, "own_indicator": OWN_INDICATOR}


def routes():
    return [(method, pattern, handler, perm) for method, pattern, handler, perm, _, _ in route_table()]


def samples(role):
    """(method, pattern) -> (path, body, success status) for a caller of `role`: a request that the
    route accepts when the role may use it. Bodies rewrite what the store already holds, so every cell
    leaves the store as it found it (deletes use an indicator made for the cell)."""
    unit = {"code": WARD, "name": "Phường Tân Định", "kind": "ward", "parent": "79", "valid_from": "2025-07-01"}
    agency = {"code": "DAE", "name": "Sở Nông nghiệp và Môi trường", "kind": "department", "orgunit": "79"}
    indicator = {"code": "PERM_" + role.upper(), "name": "Matrix probe", "periodicity": "month", "agg_space": "sum"}
    table = {
        ("GET", "/healthz"): ("/healthz", None, 200),
        ("GET", "/readyz"): ("/readyz", None, 200),
        ("GET", "/metrics"): ("/metrics", None, 200),
        ("GET", "/api/v1/openapi.json"): ("/api/v1/openapi.json", None, 200),
        ("POST", "/api/v1/login"): ("/api/v1/login", {"name": "matrix", "password": "matrix-password"}, 200),
        ("POST", "/api/v1/logout"): ("/api/v1/logout", None, 204),
        ("GET", "/api/v1/me"): ("/api/v1/me", None, 200),
        ("GET", "/api/v1/orgunits"): ("/api/v1/orgunits", None, 200),
        ("GET", "/api/v1/orgunits/tree"): ("/api/v1/orgunits/tree", None, 200),
        ("GET", "/api/v1/orgunits/geojson"): ("/api/v1/orgunits/geojson?parent=79", None, 200),
        ("GET", "/api/v1/orgunits/{code}"): ("/api/v1/orgunits/" + WARD, None, 200),
        ("POST", "/api/v1/orgunits"): ("/api/v1/orgunits", [unit], 200),
        ("GET", "/api/v1/agencies"): ("/api/v1/agencies", None, 200),
        ("POST", "/api/v1/agencies"): ("/api/v1/agencies", [agency], 200),
        ("GET", "/api/v1/indicators"): ("/api/v1/indicators", None, 200),
        ("GET", "/api/v1/indicators/{code}"): ("/api/v1/indicators/CPI_YOY", None, 200),
        ("POST", "/api/v1/indicators"): ("/api/v1/indicators", [indicator], 200),
        ("PUT", "/api/v1/indicators/{code}"): ("/api/v1/indicators/" + indicator["code"], indicator, 200),
        ("DELETE", "/api/v1/indicators/{code}"): ("/api/v1/indicators/" + indicator["code"], None, 204),
        ("GET", "/api/v1/dimensions"): ("/api/v1/dimensions", None, 200),
        ("POST", "/api/v1/dimensions"): ("/api/v1/dimensions", [{"code": "SEX", "name": "Sex", "items": [
            {"code": "F", "name": "Female"}, {"code": "M", "name": "Male"}]}], 200),
        ("GET", "/api/v1/targets"): ("/api/v1/targets?indicator=CPI_YOY", None, 200),
        ("POST", "/api/v1/targets"): ("/api/v1/targets", [{"indicator": "CPI_YOY", "orgunit": "VN", "period": "2025",
                                                            "kind": "threshold", "value": 4.5}], 200),
        ("POST", "/api/v1/data"): ("/api/v1/data", [{"indicator": OWN_INDICATOR, "orgunit": WARD, "period": "2025-09",
                                                     "value": 1234.5}], 201),
        ("GET", "/api/v1/data"): ("/api/v1/data?indicator=CPI_YOY&orgunit=VN", None, 200),
        ("GET", "/api/v1/series/{indicator}/{orgunit}"): ("/api/v1/series/CPI_YOY/VN", None, 200),
        ("GET", "/api/v1/analytics"): ("/api/v1/analytics?indicator=CPI_YOY&orgunit=VN&from=2024-01&to=2024-12"
                                       "&transforms=value,yoy,yoy_pct,ytd", None, 200),
        ("GET", "/api/v1/rank"): ("/api/v1/rank?indicator=POPULATION&period=2025&children_of=79", None, 200),
        ("GET", "/api/v1/audit"): ("/api/v1/audit", None, 200),
        ("POST", "/api/v1/formula/check"): ("/api/v1/formula/check", {"formula": "yoy(RETAIL_SALES)"}, 200),
        ("GET", "/api/v1/indices/{code}/pillars"): ("/api/v1/indices/WARD_DEV_INDEX/pillars?period=2025-09&parent=79",
                                                    None, 200),
    }
    for provider in PROVIDERS:
        table.update(provider.samples(role, CONTEXT))
    return table


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    store = make_store(str(tmp_path_factory.mktemp("matrix")), demo=True)
    run_cli(store, "user", "add", "matrix", "--role", "analyst", input="matrix-password\n")
    with Server(store) as srv:
        tokens = {role: srv.token(role, agency="DAE" if role == "reporter" else None,
                                  scope=WARD if role == "reporter" else None)
                  for role in ROLES if role != "anonymous"}
        tokens["reporter-out-of-scope"] = srv.token("reporter", agency="DAE", scope=OTHER_WARD)
        tokens["reporter-other-agency"] = srv.token("reporter", agency="DOH", scope=WARD)
        steward = {"Authorization": "Bearer " + tokens["steward"]}
        for role in ROLES:  # the indicators that the DELETE cells remove
            body = samples(role)[("POST", "/api/v1/indicators")][1]
            assert srv.post("/api/v1/indicators", body, headers=steward).status == 200
        for provider in PROVIDERS:
            if hasattr(provider, "prepare"):
                provider.prepare(srv, tokens, CONTEXT)
        yield srv, tokens


def cells():
    for method, pattern, handler, perm in routes():
        for role in ROLES:
            yield method, pattern, perm, role, role
        if perm == "DB_PERM_WRITE_DATA":
            yield method, pattern, perm, "reporter", "reporter-out-of-scope"
            yield method, pattern, perm, "reporter", "reporter-other-agency"


def expected_status(perm, role, caller, success):
    if role not in GRANTS[perm]:
        return 401 if role == "anonymous" else 403
    if caller in ("reporter-out-of-scope", "reporter-other-agency"):
        return 403
    return success


def test_every_route_has_a_sample_request():
    missing = [(m, p) for m, p, _, _ in routes() if (m, p) not in samples("admin")]
    assert missing == []
    extra = set(samples("admin")) - {(m, p) for m, p, _, _ in routes()}
    assert extra == set()


@pytest.mark.parametrize("method,pattern,perm,role,caller", list(cells()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_matrix_cell(city, method, pattern, perm, role, caller):
    srv, tokens = city
    path, body, success = samples(role)[(method, pattern)]
    headers = {} if caller == "anonymous" else {"Authorization": "Bearer " + tokens[caller]}
    r = srv.request(method, path, body=body, headers=headers)
    want = expected_status(perm, role, caller, success)
    assert r.status == want, (method, path, caller, r)
    if want >= 400:
        assert r.problem()["status"] == want
