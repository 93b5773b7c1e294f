"""`databrain forecast eval` as a user runs it: a small long file made here (exact forecasts and scores
for the naive method, sane output for every method), bad files refused with their line and column, and
the 1,001 series of the M1 competition from the shared data pack when it is there."""
import csv
import math
import os
import pty
import re
import subprocess

import pytest

from conftest import BIN, SHARED, Databrain

HEADER = "series_id,category,type,frequency,horizon,t,time,value,split\n"
SUMMARY = re.compile(r"^series=(\d+) smape=([0-9.]+|NA) mase=([0-9.]+|NA) coverage95=([0-9.]+|NA) "
                     r"seconds=([0-9.]+)$")
METHODS = ["naive", "snaive", "ses", "holt", "damped", "ets", "theta", "otheta", "combo"]


def rows(series_id, freq, horizon, train, test, category="DEMO"):
    out = []
    for t, v in enumerate(list(train) + list(test), start=1):
        split = "train" if t <= len(train) else "test"
        out.append(f"{series_id},{category},X,{freq},{horizon},{t},{t},{v},{split}\n")
    return "".join(out)


@pytest.fixture
def fc(tmp_path):
    return Databrain(str(tmp_path))


def summary(stdout):
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    return {"series": int(m.group(1)), "smape": m.group(2), "mase": m.group(3), "coverage95": m.group(4),
            "seconds": float(m.group(5))}


def read_forecasts(path):
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["series_id", "h", "mean", "lo80", "hi80", "lo95", "hi95"]
    return table[1:]


def test_naive_forecasts_and_scores_exactly(fc):
    # train 1..5, test 6 and 7: the naive forecast is 5; sigma^2 = mean squared difference = 1
    path = fc.write("one.csv", HEADER + rows("S1", 1, 2, [1, 2, 3, 4, 5], [6, 7]))
    out = fc.path("out.csv")
    s = summary(fc.ok("forecast", "eval", "--input", path, "--output", out, "--method", "naive"))
    assert s["series"] == 1
    assert s["smape"] == f"{(200 / 11 + 400 / 12) / 2:.3f}"  # 25.758
    assert s["mase"] == "1.500"
    assert s["coverage95"] == "100.0"
    table = read_forecasts(out)
    assert [r[:3] for r in table] == [["S1", "1", "5"], ["S1", "2", "5"]]
    z80, z95 = 1.2815515655446004, 1.959963984540054
    for r in table:
        h = int(r[1])
        assert float(r[3]) == pytest.approx(5 - z80 * math.sqrt(h), abs=1e-12)
        assert float(r[6]) == pytest.approx(5 + z95 * math.sqrt(h), abs=1e-12)


def test_every_method_on_a_small_file(fc):
    yearly = [100 + 7 * t + (t % 3) for t in range(20)]
    quarterly = [200 + 2 * t + [30, -20, 10, -20][t % 4] + (t % 5) for t in range(36)]
    gappy = [50 + t if t % 6 else "NA" for t in range(30)]
    gappy[10] = ""
    text = (HEADER + rows("Y", 1, 4, yearly[:16], yearly[16:]) + rows("Q", 4, 8, quarterly[:28], quarterly[28:])
            + rows("G", 1, 3, gappy[:27], gappy[27:]) + rows("F", 12, 5, [1, 2, 3], []))
    path = fc.write("small.csv", text)
    for method in METHODS:
        out = fc.path(f"{method}.csv")
        s = summary(fc.ok("forecast", "eval", "--input", path, "--output", out, "--method", method))
        assert s["series"] == 4, method
        assert s["smape"] != "NA" and s["mase"] != "NA" and s["coverage95"] != "NA", method
        table = read_forecasts(out)
        assert [r[0] for r in table] == ["Y"] * 4 + ["Q"] * 8 + ["G"] * 3 + ["F"] * 5, method
        for r in table:
            lo95, lo80, mean, hi80, hi95 = (float(r[i]) for i in (5, 3, 2, 4, 6))
            assert all(math.isfinite(v) for v in (lo95, lo80, mean, hi80, hi95)), (method, r)
            assert lo95 <= lo80 <= mean <= hi80 <= hi95, (method, r)
    # without --output only the summary is printed; the default method is combo
    s = summary(fc.ok("forecast", "eval", "--input", path))
    assert s["series"] == 4


def test_progress_bar_on_a_terminal(fc):
    text = HEADER + rows("A", 1, 2, [1, 2, 3, 4, 5], [6, 7]) + rows("B", 1, 1, [3, 1, 4, 1, 5], [9])
    path = fc.write("two.csv", text)
    primary, secondary = pty.openpty()
    proc = subprocess.run([BIN, "forecast", "eval", "--input", path], stdout=subprocess.PIPE, stderr=secondary,
                          text=True, timeout=60)
    os.close(secondary)
    shown = b""
    try:
        while chunk := os.read(primary, 4096):
            shown += chunk
    except OSError:  # the terminal's other end is closed: all was read
        pass
    os.close(primary)
    assert proc.returncode == 0
    assert summary(proc.stdout)["series"] == 2
    assert b"[" + b"#" * 30 + b"] 2/2 series 100%" in shown
    assert shown.endswith(b"\r\x1b[K")  # the bar is wiped before the summary


def test_bad_files_are_refused_with_line_and_column(fc):
    def refused(name, text):
        proc = fc.run("forecast", "eval", "--input", fc.write(name, text))
        assert proc.returncode == 3, (proc.stdout, proc.stderr)
        assert proc.stdout == ""
        return proc.stderr

    err = refused("cols.csv", "series_id,frequency,horizon,value,split,colour\nA,1,1,3,train\n")
    assert "line 1, column 6, unknown column 'colour'" in err
    err = refused("nocol.csv", "series_id,frequency,horizon,value\nA,1,1,3\n")
    assert "line 1, missing column 'split'" in err
    err = refused("num.csv", HEADER + "A,C,T,1,2,1,1,12,train\nA,C,T,1,2,2,2,abc,train\nA,C,T,1,2,3,3,4,test\n")
    assert "line 3, column 8, value: value 'abc' is not a number" in err
    assert "rejected (1 problems); nothing was forecast" in err
    err = refused("notrain.csv", HEADER + rows("A", 1, 2, [1, 2, 3], [4]) + rows("B", 1, 2, [], [5, 6]))
    assert "line 6, split: series 'B' has no train rows" in err
    err = refused("many.csv", HEADER + "A,C,T,0,2,1,1,1,train\nA,C,T,1,2,2,2,1,later\nA,C,T,1,2,1,1,1,train\n")
    assert "line 2, column 4, frequency: frequency '0' is not a whole number from 1 to 10000" in err
    assert "line 3, column 9, split: split 'later': expected train or test" in err
    err = refused("order.csv", HEADER + rows("A", 1, 1, [1, 2], [3]) + rows("B", 1, 1, [1, 2], [3])
                  + "A,C,T,1,1,9,9,4,test\n")
    assert "line 8, series_id: series 'A' already had rows before (from line 2)" in err
    assert fc.run("forecast", "eval", "--input", fc.path("absent.csv")).returncode == 1


def test_usage_errors(fc):
    path = fc.write("one.csv", HEADER + rows("S1", 1, 2, [1, 2, 3, 4, 5], [6, 7]))
    proc = fc.run("forecast", "eval", "--input", path, "--method", "arima")
    assert proc.returncode == 2 and "unknown method 'arima'" in proc.stderr
    assert fc.run("forecast", "eval").returncode == 2
    assert fc.ok("forecast", "eval", "--help").startswith("usage: databrain")


def test_m1_competition(fc):
    m1 = os.path.join(SHARED, "data", "forecast", "m1_long.csv")
    if not os.path.exists(m1):
        pytest.skip("the M1 fixture is not in the shared data pack")
    with open(m1, newline="") as f:
        reader = csv.DictReader(f)
        horizons = {}
        for r in reader:
            horizons[r["series_id"]] = int(r["horizon"])
    assert len(horizons) == 1001
    out = fc.path("m1.csv")
    s = summary(fc.ok("forecast", "eval", "--input", m1, "--output", out))
    assert s["series"] == 1001
    table = read_forecasts(out)
    assert len(table) == sum(horizons.values())
    assert {r[0] for r in table} == set(horizons)
    assert all(math.isfinite(float(v)) for r in table for v in r[2:])
    # the combination beats the naive forecast on the competition's hold-out
    naive = summary(fc.ok("forecast", "eval", "--input", m1, "--method", "naive"))
    assert float(s["smape"]) < float(naive["smape"])
    assert float(s["mase"]) < float(naive["mase"])
