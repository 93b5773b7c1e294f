"""The command line on a small city: catalog import, observation import with every kind of bad input,
revisions and as-of, idempotency, export round trips, queries, and a process killed mid-import."""
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN

ORGUNITS = "code,name,parent\n79,Thành phố Hồ Chí Minh,\n26734,Phường Sài Gòn,79\n26737,Phường Tân Định,79\n26740,Phường Bến Thành,79\n"
INDICATORS = "code,name,unit,aggregation\nRETAIL,Retail sales,billion VND,sum\nRATE,Unemployment rate,%,avg\n"


@pytest.fixture
def city(db):
    db.ok("catalog", "import", "orgunits", db.write("orgunits.csv", ORGUNITS))
    db.ok("catalog", "import", "indicators", db.write("indicators.csv", INDICATORS), "--periodicity", "month")
    return db


def rows_of(db):
    return db.csv("export")[1:]


def test_help_everywhere_and_exit_codes(db):
    assert "commands:" in db.ok("--help")
    for cmd in (["init"], ["import"], ["export"], ["catalog", "import"], ["catalog", "list"], ["catalog", "show"],
                ["query", "series"], ["query", "cross"], ["query", "rollup"], ["demo"]):
        out = db.ok(*cmd, "--help")
        assert out.startswith("usage: databrain"), cmd
    assert db.run("frobnicate").returncode == 2
    assert db.run("import").returncode == 2
    assert db.run("import", "--bogus", "x.csv").returncode == 2


def test_import_export_round_trip(city):
    text = ("indicator,orgunit,period,value,status\n"
            "RETAIL,26734,2025-01,1200.5,official\n"
            "RETAIL,26737,2025-01,980,\n"
            "RATE,26734,2025-01,2.25,estimated\n"
            "RETAIL,26734,2025-02,1250,provisional\n")
    out = city.ok("import", city.write("obs.csv", text))
    assert "4 rows: 4 new, 0 revised, 0 unchanged" in out
    rows = rows_of(city)
    assert sorted(rows) == sorted([
        ["RETAIL", "26734", "2025-01", "1200.5", "official"],
        ["RETAIL", "26734", "2025-02", "1250", "provisional"],
        ["RETAIL", "26737", "2025-01", "980", "provisional"],
        ["RATE", "26734", "2025-01", "2.25", "estimated"],
    ])
    exported = city.ok("export")
    # the export imports into a fresh store and exports identically
    other = city.path("other.db")
    for args in (["init"], ["catalog", "import", "orgunits", city.path("orgunits.csv")],
                 ["catalog", "import", "indicators", city.path("indicators.csv"), "--periodicity", "month"],
                 ["import", city.write("exported.csv", exported)]):
        subprocess.run([BIN, "--store", "sqlite:" + other, *args], check=True, capture_output=True)
    again = subprocess.run([BIN, "--store", "sqlite:" + other, "export"], check=True, capture_output=True, text=True)
    assert again.stdout == exported


def test_json_import(city):
    body = '{"observations": [{"indicator": "RETAIL", "orgunit": "26734", "period": "2025-03", "value": 7.5},' \
           ' {"indicator": "RETAIL", "orgunit": "267XX", "period": "2025-13", "value": "x"}]}'
    p = city.run("import", city.write("obs.json", body), check=3)
    assert "$.observations[1].value: must be a number" in p.stderr
    assert rows_of(city) == []
    city.ok("import", city.write("good.json", body.replace(', {"indicator": "RETAIL", "orgunit": "267XX", "period": "2025-13", "value": "x"}', "")))
    assert rows_of(city) == [["RETAIL", "26734", "2025-03", "7.5", "provisional"]]


def test_every_bad_row_is_listed_and_nothing_is_written(city):
    city.ok("import", city.write("first.csv", "indicator,orgunit,period,value\nRETAIL,26734,2024-12,5\n"))
    before = rows_of(city)
    text = ("indicator,orgunit,period,value\n"
            "RETAIL,26734,2025-01,10\n"        # 2 fine
            "RETAIL,99999,2025-01,10\n"        # 3 unknown unit
            "CPII,26734,2025-01,10\n"          # 4 unknown indicator
            "RETAIL,26734,2025-Q1,10\n"        # 5 wrong period type
            "RETAIL,26734,2025-13,10\n"        # 6 invalid month
            "RETAIL,26737,2025-01,nan\n"       # 7 NaN
            "RETAIL,26737,2025-02,inf\n"       # 8 infinity
            "RETAIL,26737,2025-03,\n"          # 9 blank
            "RETAIL,26734,2025-01,11\n"        # 10 duplicate of line 2
            "RETAIL,26734\n")                  # 11 too few fields
    p = city.run("import", city.write("bad.csv", text), check=3)
    err = p.stderr
    assert "line 3, column 2, orgunit: unknown org unit '99999'" in err
    assert "line 4, column 1, indicator: unknown indicator 'CPII'" in err
    assert "line 5, column 3, period:" in err and "quarter" in err
    assert "line 6, column 3, period:" in err and "13" in err
    assert "line 7, column 4, value: value 'nan' is not a finite decimal number" in err
    assert "line 8, column 4, value: value 'inf' is not a finite decimal number" in err
    assert "line 9, column 4, value: value is blank" in err
    assert "line 10, duplicate row: this batch already has a value of RETAIL for 26734 in 2025-01" in err
    assert "line 11, the row has 2 fields; the header has 4" in err
    assert "nothing was written" in err
    assert rows_of(city) == before


def test_malformed_csv(city):
    cases = {
        "quote.csv": (b'indicator,orgunit,period,value\nRETAIL,26734,2025-01,"12\n', "line 2"),
        "latin1.csv": (b"indicator,orgunit,period,value\nRETAIL,26734,2025-01,12\nRETAIL,P\xe9,2025-01,1\n", "line 3"),
        "unknowncol.csv": (b"indicator,orgunit,period,value,colour\nRETAIL,26734,2025-01,1,red\n", "unknown column 'colour'"),
        "nohdr.csv": (b"", "empty"),
        "missingcol.csv": (b"indicator,orgunit,value\nRETAIL,26734,1\n", "no 'period' column"),
    }
    for name, (data, expected) in cases.items():
        p = city.run("import", city.write(name, data, "wb"), check=3)
        assert expected in p.stderr, (name, p.stderr)
    assert rows_of(city) == []
    # BOM, CRLF and blank lines are fine
    ok = b"\xef\xbb\xbfindicator,orgunit,period,value\r\n\r\nRETAIL,26734,2025-01,12\r\n\r\nRETAIL,26737,2025-01,13\r\n"
    assert "2 rows: 2 new" in city.ok("import", city.write("bom.csv", ok, "wb"))


def test_huge_line_is_rejected_not_loaded(city):
    big = "indicator,orgunit,period,value\nRETAIL,26734,2025-01," + "9" * (10 * 1024 * 1024) + "\nRETAIL,26737,2025-01,1\n"
    p = city.run("import", city.write("big.csv", big), check=3)
    assert "line 2" in p.stderr
    assert rows_of(city) == []


def test_revisions_and_as_of(city):
    city.ok("import", city.write("a.csv", "indicator,orgunit,period,value\nRETAIL,26734,2025-01,100\nRETAIL,26737,2025-01,50\n"))
    time.sleep(0.05)
    middle = city.ok("export", "--meta")
    stamp = [r for r in middle.splitlines()[1:]][0].split(",")[-1]
    time.sleep(0.05)
    out = city.ok("import", city.write("b.csv", "indicator,orgunit,period,value\nRETAIL,26734,2025-01,110\nRETAIL,26737,2025-01,50\n"))
    assert "2 rows: 0 new, 1 revised, 1 unchanged" in out
    assert sorted(rows_of(city)) == [["RETAIL", "26734", "2025-01", "110", "provisional"],
                                     ["RETAIL", "26737", "2025-01", "50", "provisional"]]
    meta = city.csv("export", "--meta")
    assert meta[0][-3:] == ["revision", "seq", "received"]
    revisions = {r[1]: r[5] for r in meta[1:]}
    assert revisions == {"26734": "2", "26737": "1"}
    then = city.csv("export", "--as-of", stamp)[1:]
    assert sorted(r[:4] for r in then) == [["RETAIL", "26734", "2025-01", "100"], ["RETAIL", "26737", "2025-01", "50"]]
    assert city.csv("export", "--as-of", "2000-01-01T00:00:00Z")[1:] == []


def test_idempotency_key(city):
    f = city.write("a.csv", "indicator,orgunit,period,value\nRETAIL,26734,2025-01,100\n")
    city.ok("import", f, "--idempotency-key", "k-1")
    city.write("a.csv", "indicator,orgunit,period,value\nRETAIL,26734,2025-01,999\n")
    out = city.ok("import", f, "--idempotency-key", "k-1")
    assert "already imported" in out
    assert rows_of(city) == [["RETAIL", "26734", "2025-01", "100", "provisional"]]


def test_export_filters(city):
    city.ok("import", city.write("a.csv", "indicator,orgunit,period,value\n"
                                          "RETAIL,26734,2024-12,1\nRETAIL,26734,2025-01,2\nRETAIL,26737,2025-01,3\n"
                                          "RATE,26740,2025-01,4\n"))
    assert [r[3] for r in city.csv("export", "--indicator", "RETAIL", "--orgunit", "26734")[1:]] == ["1", "2"]
    assert [r[3] for r in city.csv("export", "--from", "2025-01", "--to", "2025")[1:]] == ["2", "3", "4"]
    assert [r[3] for r in city.csv("export", "--children-of", "79", "--indicator", "RATE")[1:]] == ["4"]
    assert city.ok("export", "--count").strip() == "4"
    assert city.run("export", "--indicator", "NOPE").returncode == 4
    assert city.run("export", "--from", "2025-99").returncode == 2


def test_queries(city):
    city.ok("import", city.write("a.csv", "indicator,orgunit,period,value\n"
                                          "RETAIL,26734,2025-01,10\nRETAIL,26737,2025-01,20\nRETAIL,26740,2025-01,30\n"
                                          "RETAIL,26734,2025-02,11\nRETAIL,26737,2025-02,21\n"
                                          "RATE,26734,2025-01,2\nRATE,26737,2025-01,4\n"))
    assert city.csv("query", "series", "RETAIL", "26734") == [
        ["period", "value", "status", "revision"], ["2025-01", "10.00", "provisional", "1"], ["2025-02", "11.00", "provisional", "1"]]
    cross = city.csv("query", "cross", "RETAIL", "2025-01")
    assert [r[0] for r in cross[1:]] == ["26734", "26737", "26740"]
    assert cross[2][1] == "Phường Tân Định"
    roll = city.csv("query", "rollup", "RETAIL", "79")
    assert roll[1:] == [["2025-01", "60.00", "3", "3"], ["2025-02", "32.00", "2", "3"]]
    assert city.csv("query", "rollup", "RATE", "79")[1] == ["2025-01", "3.00", "2", "3"]
    assert city.csv("query", "rollup", "RETAIL", "79", "--by", "quarter")[1] == ["2025-Q1", "92.00", "2", "3"]
    assert city.run("query", "series", "RETAIL", "00000").returncode == 4


def test_newer_schema_is_refused(city):
    con = sqlite3.connect(city.db)
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    p = city.run("export", check=5)
    assert "newer" in p.stderr


def test_killed_mid_import_leaves_nothing(city):
    city.ok("import", city.write("a.csv", "indicator,orgunit,period,value\nRETAIL,26737,2025-01,1\n"))
    fifo = city.path("feed.csv")
    os.mkfifo(fifo)
    proc = subprocess.Popen([BIN, "--store", "sqlite:" + city.db, "import", fifo],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(fifo, "w") as feed:
        feed.write("indicator,orgunit,period,value\n")
        for y in range(1000, 8000):  # 84,000 rows: several blocks are written inside the open transaction
            for m in range(1, 13):
                feed.write("RETAIL,26734,%04d-%02d,%d\n" % (y, m, m))
        feed.flush()
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert rows_of(city) == [["RETAIL", "26737", "2025-01", "1", "provisional"]]
    con = sqlite3.connect(city.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
