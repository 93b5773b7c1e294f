"""The dashboard as the server serves it (src/http/static.c) and the XLSX answers of the analytics
routes (src/http/xlsx.c): embedded files with their media types, ETag revalidation, the security headers,
index.html for the dashboard's own pages, 404 for unknown files, and workbooks whose cells hold the same
values as the CSV answer."""
import csv
import io
import os
import re
import zipfile

from server import demo_server  # noqa: F401  (pytest fixture)

WEB = os.path.join(os.path.dirname(__file__), "../../web")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_index_and_assets_are_the_embedded_files(demo_server):
    r = demo_server.get("/")
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8"
    with open(os.path.join(WEB, "index.html"), "rb") as f:
        assert r.body == f.read()
    assert r.header("Content-Security-Policy").startswith("default-src 'self';")
    assert r.header("Cache-Control") == "no-cache"
    r = demo_server.get("/assets/js/main.js")
    assert r.status == 200 and r.header("Content-Type") == "text/javascript; charset=utf-8"
    with open(os.path.join(WEB, "assets/js/main.js"), "rb") as f:
        assert r.body == f.read()
    with open(os.path.join(WEB, "node_modules/echarts/dist/echarts.min.js"), "rb") as f:
        assert demo_server.get("/assets/vendor/echarts.min.js").body == f.read()


def test_a_file_is_revalidated_with_its_etag(demo_server):
    r = demo_server.get("/assets/app.css")
    tag = r.header("ETag")
    assert r.status == 200 and r.header("Content-Type") == "text/css; charset=utf-8" and tag
    again = demo_server.get("/assets/app.css", headers={"If-None-Match": tag})
    assert again.status == 304 and again.body == b""


def test_the_dashboards_pages_answer_index_html_and_unknown_files_404(demo_server):
    index = demo_server.get("/").body
    for page in ("/map", "/ward/26734", "/indicator/CPI_YOY", "/tasks", "/login", "/indicator"):
        r = demo_server.get(page + "?x=1")
        assert r.status == 200 and r.body == index, page
    for missing in ("/assets/nope.js", "/assets/js", "/assets/vendor/echarts.min.js/x"):
        r = demo_server.get(missing)
        assert r.status == 404 and r.problem()["detail"] == "the dashboard has no such file", missing
    for elsewhere in ("/api/v1/nope", "/favicon.ico", "/nowhere", "/mapping", "/healthz/"):
        r = demo_server.get(elsewhere)
        assert r.status == 404 and r.problem()["detail"] == "no route matches this path", elsewhere
    r = demo_server.request("POST", "/map", body=b"")
    assert r.status == 404 and r.problem()["detail"] == "no route matches this path"
    assert demo_server.request("HEAD", "/map").status == 200


def _cells(book):
    """The cells of the first sheet of an XLSX workbook: {ref: value as text}, shared strings resolved."""
    z = zipfile.ZipFile(io.BytesIO(book))
    strings = re.findall(r"<t[^>]*>([^<]*)</t>", z.read("xl/sharedStrings.xml").decode())
    out = {}
    for ref, kind, value in re.findall(r'<c r="([A-Z]+\d+)"(?: s="\d+")?(?: t="(\w+)")?><v>([^<]*)</v></c>',
                                       z.read("xl/worksheets/sheet1.xml").decode()):
        out[ref] = strings[int(value)] if kind == "s" else value
    return out


def test_analytics_as_xlsx_holds_the_csv_table(demo_server):
    auth = {"Authorization": "Bearer " + demo_server.token("analyst")}
    q = "/api/v1/analytics?indicator=SCHOOLS&orgunit=79&from=2024-01&to=2024-03&transforms=value,yoy,status"
    table = list(csv.reader(io.StringIO(demo_server.get(q + "&format=csv", headers=auth).text)))
    r = demo_server.get(q + "&format=xlsx", headers=auth)
    assert r.status == 200 and r.header("Content-Type") == XLSX
    cells = _cells(r.body)
    assert [cells["A1"], cells["B1"], cells["C1"], cells["D1"]] == ["indicator", "orgunit", "period", "value"]
    assert len(table) == 4
    for i, row in enumerate(table[1:], start=2):
        assert cells[f"A{i}"] == "SCHOOLS" and cells[f"B{i}"] == "79" and cells[f"C{i}"] == row[2]
        assert float(cells[f"D{i}"]) == float(row[3])  # a number cell, not text
    r = demo_server.get("/api/v1/rank?indicator=SCHOOLS&period=2024-03&children_of=79&limit=2",
                        headers=dict(auth, Accept=XLSX))
    assert r.status == 200 and r.header("Content-Type") == XLSX
    cells = _cells(r.body)
    assert [cells["A1"], cells["B1"], cells["C1"], cells["D1"]] == ["rank", "orgunit", "name", "value"]
    assert cells["A2"] == "1" and "A4" not in cells


def test_bad_analytics_queries_are_refused_before_any_workbook(demo_server):
    r = demo_server.get("/api/v1/analytics?indicator=NOPE&orgunit=79&format=xlsx")
    assert r.status in (400, 404) and r.problem()["errors"][0]["path"] == "indicator"
