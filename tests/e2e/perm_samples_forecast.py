"""Permission-matrix samples of the forecast routes (routes_forecast.def): a forecast computed on demand
for a public series, a run restricted to that series, and the status of a job that prepare() started."""


def prepare(srv, tokens, ctx):
    admin = {"Authorization": "Bearer " + tokens["admin"]}
    r = srv.post("/api/v1/forecast/run", {"indicators": ["CPI_YOY"], "units": ["VN"]}, headers=admin)
    assert r.status == 202, r
    ctx["forecast_job"] = r.json()["job"]


def samples(role, ctx):
    job = ctx.get("forecast_job", 1)
    return {
        ("GET", "/api/v1/forecast/{indicator}/{orgunit}"): ("/api/v1/forecast/CPI_YOY/VN?h=3", None, 200),
        ("POST", "/api/v1/forecast/run"): ("/api/v1/forecast/run", {"indicators": ["CPI_YOY"], "units": ["VN"]}, 202),
        ("GET", "/api/v1/forecast/jobs/{id}"): ("/api/v1/forecast/jobs/%d" % job, None, 200),
    }
