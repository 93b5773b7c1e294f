"""`databrain tasks ...` and `databrain directive add` on a real store holding the synthetic demo city (and
its 62 demo tasks): a task list imported from an Excel-style CSV (refused whole with every problem located,
then accepted), listed, exported and read back, and the statistics ranked and published as indicators."""
import csv
import io

import pytest

from server import make_store, run_cli


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(str(tmp_path_factory.mktemp("tasks_cli")), demo=True)


def test_directive_add(store):
    r = run_cli(store, "directive", "add", "77/TB-VP", "--date", "05/11/2025", "--issuer", "UBND Thành phố",
                "--title", "Thông báo kết luận về chống ngập")
    assert r.stdout == "directive 77/TB-VP recorded\n"
    again = run_cli(store, "directive", "add", "77/TB-VP", "--date", "2025-11-05", "--issuer", "x", "--title", "y",
                    check=False)
    assert again.returncode == 3
    assert "directive 77/TB-VP exists already" in again.stderr


def test_import_all_or_nothing(store, tmp_path):
    bad = tmp_path / "nhiem-vu.csv"
    bad.write_text("Số văn bản,Tên nhiệm vụ,Cơ quan chủ trì,Thời hạn\n"
                   "77/TB-VP,Nạo vét cống,Sở Xây dựng,30/11/2025\n"
                   "99/XX,Kè bờ kênh,DOC,31/11/2025\n", encoding="utf-8")
    r = run_cli(store, "tasks", "import", str(bad), check=False)
    assert r.returncode == 3
    assert r.stderr.splitlines() == [
        f"{bad}: line 3, column 4, deadline: '31/11/2025' is not a date (dd/mm/yyyy or YYYY-MM-DD)",
        f"{bad}: line 3, column 1, directive: unknown directive '99/XX'",
        f"{bad}: rejected (2 problems); nothing was written",
    ]
    assert "Nạo vét cống" not in run_cli(store, "tasks", "list").stdout
    good = tmp_path / "good.csv"
    good.write_text("Số văn bản,Tên nhiệm vụ,Cơ quan chủ trì,Ngày giao,Thời hạn,Mức độ ưu tiên\n"
                    "77/TB-VP,Nạo vét cống,Sở Xây dựng,05/11/2025,28/11/2025,khẩn\n", encoding="utf-8")
    assert run_cli(store, "tasks", "import", str(good)).stdout == f"{good}: 1 tasks imported\n"
    listed = run_cli(store, "tasks", "list", "--agency", "DOC", "--as-of", "2025-12-03").stdout.splitlines()
    assert listed[0].split() == ["id", "state", "due", "late", "lead", "title"]
    mine = [line for line in listed if "Nạo vét cống" in line]
    assert len(mine) == 1 and mine[0].split()[1:5] == ["overdue", "2025-11-28", "3", "DOC"]


def test_export_reads_back(store, tmp_path):
    out = run_cli(store, "tasks", "export", "--agency", "POLICE", "--as-of", "2025-10-31").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    # the police lead five demo tasks and join six others
    assert (len(rows), sum(r["lead"] == "POLICE" for r in rows)) == (11, 5)
    assert all(r["lead"] == "POLICE" or "POLICE" in r["co_agencies"].split(";") for r in rows)
    path = tmp_path / "police.csv"
    path.write_text(out, encoding="utf-8")
    assert run_cli(store, "tasks", "import", str(path)).stdout == f"{path}: 11 tasks imported\n"


def test_stats_rank_and_publish(store):
    out = run_cli(store, "tasks", "stats", "--as-of", "2025-10-31", "--publish").stdout.splitlines()
    assert out[0].split() == ["rank", "agency", "items", "done", "on", "time", "overdue", "on", "time%", "avg", "delay"]
    dof = [line.split() for line in out if " DOF " in line][0]
    assert dof[1:] == ["DOF", "10", "6", "4", "2", "55.6", "4.11"]  # the hand computation of test_tasks_demo.c
    assert out[-1].startswith("published: ")
    unit = run_cli(store, "tasks", "stats", "--by", "unit", "--as-of", "2025-10-31").stdout
    assert " 90001 " in unit and " 79 " in unit
    bad = run_cli(store, "tasks", "stats", "--by", "ward", check=False)
    assert bad.returncode == 2
