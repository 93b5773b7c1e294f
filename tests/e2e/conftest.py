"""Fixtures of the end-to-end tests: the real databrain binary, run in a scratch folder with its own
store, exactly as a user runs it."""
import os
import subprocess

import pytest

BIN = os.environ.get("DATABRAIN_BIN") or os.path.join(os.path.dirname(__file__), "../../build/databrain")
SHARED = os.environ.get("DB_SHARED_DIR") or os.path.join(os.path.dirname(__file__), "../../../shared")


class Databrain:
    """Runs `databrain --store sqlite:<tmp>/store.db ARGS` and keeps the scratch folder."""

    def __init__(self, folder):
        self.folder = folder
        self.db = os.path.join(folder, "store.db")

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, text, mode="w"):
        p = self.path(name)
        with open(p, mode) as f:
            f.write(text)
        return p

    def run(self, *args, check=None, input=None):
        """Runs the binary; `check` is the expected exit code (None: do not check)."""
        proc = subprocess.run([BIN, "--store", "sqlite:" + self.db, *args], capture_output=True, text=True,
                              input=input, cwd=self.folder, timeout=600)
        if check is not None:
            assert proc.returncode == check, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def ok(self, *args):
        return self.run(*args, check=0).stdout

    def csv(self, *args):
        """Runs a command that prints CSV and returns its rows as lists (header first)."""
        import csv
        import io
        return list(csv.reader(io.StringIO(self.ok(*args))))


@pytest.fixture
def db(tmp_path):
    d = Databrain(str(tmp_path))
    d.ok("init")
    return d


@pytest.fixture(scope="session")
def shared():
    data = os.path.join(SHARED, "data")
    if not os.path.isdir(data):
        pytest.skip("the shared data pack is not beside the repository")
    return SHARED
