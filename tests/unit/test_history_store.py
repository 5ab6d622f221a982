"""The run history as a store a fleet can share, on SQLite: where it lives (URL or file),
concurrent writers losing nothing, idempotent re-recording, an old database still read,
and a bad or unreachable URL as one line that never shows the password."""

from __future__ import annotations

import json
import multiprocessing
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from recorded_runs import recorded_run
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.schema import CreateTable

from drills.cli import main
from drills.errors import EnvironmentProblem, UserError
from drills.report import past_runs as history

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
SCENARIO = "dc1-port-change-failover"
PASSWORD = "Hist0ry-s3cret/ü"


def make_run(root: Path, run_id: str, *, rto: float = 3.0, status: str = "passed",
             started: str = "2025-03-01T10:15:00.000Z") -> Path:
    """A real recorded run (journal, ledger, result.json) under another run id."""
    return recorded_run(root, run_id, rto, status, started)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _secrets_stay_in_this_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URLs here register their passwords process-wide, as they must; the rest of the
    session should not have them masked in its output."""
    from drills import masking

    monkeypatch.setattr(masking, "_registered", set(masking._registered))
    monkeypatch.setattr(masking, "_current", masking._current)


@pytest.fixture
def no_history_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(history.URL_VARIABLE, raising=False)
    monkeypatch.delenv(history.DB_VARIABLE, raising=False)


# ---- where the history lives -------------------------------------------------------------------

def test_where_first_match_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_history_env: None) -> None:
    assert history.store().file == history.DEFAULT_DB
    monkeypatch.setenv(history.DB_VARIABLE, str(tmp_path / "env.sqlite"))
    assert history.store().file == tmp_path / "env.sqlite"
    monkeypatch.setenv(history.URL_VARIABLE, f"sqlite:///{tmp_path}/url.sqlite")
    assert history.store().file == tmp_path / "url.sqlite"  # the URL beats the file variable
    assert history.store(tmp_path / "arg.sqlite").file == tmp_path / "arg.sqlite"  # an argument beats both
    assert history.store(url=f"sqlite:///{tmp_path}/u.sqlite").file == tmp_path / "u.sqlite"
    assert history.store(f"sqlite:///{tmp_path}/in-db.sqlite").file == tmp_path / "in-db.sqlite"  # a URL as --db
    with pytest.raises(UserError, match="not both"):
        history.store(tmp_path / "a.sqlite", f"sqlite:///{tmp_path}/b.sqlite")


def test_server_urls_are_normalised_and_masked(no_history_env: None) -> None:
    where = history.store(url=f"mysql://drills:{PASSWORD.replace('/', '%2F')}@db.example:3307/hist")
    assert where.url.drivername == "mysql+pymysql"  # the driver drills ships
    assert where.url.password == PASSWORD
    assert PASSWORD not in where.location and "%2F" not in where.location
    assert where.location == "mysql+pymysql://drills:***@db.example:3307/hist" and where.host == "db.example:3307"
    assert history.store(url="mariadb://u:Maria-pw-42@h/d").url.drivername == "mariadb+pymysql"
    from drills.masking import mask
    assert PASSWORD not in mask(f"said {PASSWORD}")  # registered the moment the URL was read


@pytest.mark.parametrize("url, says", [
    ("not a url", "not a database URL"),
    ("postgresql://u:Pg-s3cret-pw@h/d", "not supported"),
    ("mysql+pymysql://u:My-s3cret-pw@h:3306", "names no database"),
    ("mysql+pymysql://u:My-s3cret@pw@h/d", "URL-encoded"),
])
def test_bad_url_is_one_line_without_the_password(url: str, says: str, capsys: pytest.CaptureFixture[str],
                                                   no_history_env: None) -> None:
    assert main(["history", "--history-url", url]) == 2
    out, err = capsys.readouterr()
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "s3cret" not in out + err


def test_unreachable_server_names_the_host_not_the_password(capsys: pytest.CaptureFixture[str],
                                                           no_history_env: None) -> None:
    port = closed_port()
    assert main(["history", "--history-url", f"mysql+pymysql://drills:{PASSWORD}@127.0.0.1:{port}/hist"]) == 2
    out, err = capsys.readouterr()
    assert f"127.0.0.1:{port}" in err and "2003" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert PASSWORD not in out + err and "s3cret" not in out + err


def test_unusable_sqlite_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database")
    with pytest.raises(EnvironmentProblem, match="junk.sqlite: file is not a database"):
        history.runs(junk)
    assert main(["history", "--record", str(make_run(tmp_path, "r1")), "--db", str(junk)]) == 2
    assert "file is not a database" in capsys.readouterr().err


def test_mysql_and_sqlite_get_the_same_table() -> None:
    """One table definition: on MySQL/MariaDB keys compare byte for byte (as on SQLite), numbers
    are DOUBLE (a 4-byte FLOAT would read 3.432 back as 3.4319999), and InnoDB."""
    ddl = str(CreateTable(history.RUNS).compile(dialect=mysql.dialect()))
    assert "run_id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL" in ddl
    assert "rto_s DOUBLE" in ddl and "ENGINE=InnoDB" in ddl
    assert "COLLATE" not in str(CreateTable(history.RUNS).compile(dialect=sqlite.dialect()))


# ---- what the store keeps ------------------------------------------------------------------------

def test_sqlite_url_records_lists_and_gates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           no_history_env: None) -> None:
    url = f"sqlite:///{tmp_path}/deep/h.sqlite"
    for i, rto in enumerate((3.0, 3.1, 2.9)):
        assert main(["history", "--history-url", url, "--record",
                     str(make_run(tmp_path, f"p{i}", rto=rto, started=f"2025-03-0{i + 1}T10:00:00Z"))]) == 0
    out = capsys.readouterr().out
    assert f"recorded p2 ({SCENARIO}, passed) in {tmp_path}/deep/h.sqlite" in out
    assert [r.run_id for r in history.runs(url=url)] == ["p2", "p1", "p0"]
    assert history.baseline_regression(None, SCENARIO, 3.5, 0.2, url=url) is None
    message = history.baseline_regression(None, SCENARIO, 3.7, 0.2, url=url)
    assert message is not None and "baseline of 3.000 s" in message
    assert history.baseline_regression(None, SCENARIO, 3.7, 0.2, url=url, exclude_run_id="p1") is not None


def test_runner_default_follows_the_url_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner calls record(run_dir) and baseline_regression(None, ...): the variable decides."""
    monkeypatch.setenv(history.DB_VARIABLE, str(tmp_path / "file.sqlite"))
    monkeypatch.setenv(history.URL_VARIABLE, f"sqlite:///{tmp_path}/shared.sqlite")
    history.record(make_run(tmp_path, "r1", rto=2.0))
    assert (tmp_path / "shared.sqlite").exists() and not (tmp_path / "file.sqlite").exists()
    assert history.baseline_regression(None, SCENARIO, 9.0, 0.2) is not None


def test_a_database_made_before_sqlalchemy_is_still_read_and_written(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, scenario TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT,
          finished_at TEXT, duration_s REAL, rto_s REAL, rpo_lost_writes REAL, operator TEXT, journal_sha256 TEXT,
          run_dir TEXT, recorded_at TEXT NOT NULL);
        CREATE INDEX runs_scenario_started ON runs (scenario, started_at);
        INSERT INTO runs VALUES ('old-1', 'dc1-port-change-failover', 'passed', '2024-01-01T00:00:00Z', NULL, 12.5,
          3.0, 0, 'bob', NULL, '/gone', '2024-01-01T00:00:20Z');
    """)
    old.commit()
    old.close()
    history.record(make_run(tmp_path, "new-1", rto=4.0), db=db)
    rows = history.runs(db)
    assert [(r.run_id, r.operator) for r in rows] == [("new-1", "ci-bot"), ("old-1", "bob")]
    assert history.baseline_regression(db, SCENARIO, 3.5, 0.1, exclude_run_id="new-1") is not None


def test_recording_again_refreshes_the_one_row(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    run = make_run(tmp_path, "again", rto=3.0, status="failed")
    history.record(run, db=db)
    doc = json.loads((run / "result.json").read_text(encoding="utf-8"))
    doc["status"] = "passed"
    (run / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    history.record(run, db=db)
    rows = history.runs(db)
    assert [(r.run_id, r.status) for r in rows] == [("again", "passed")]


# ---- concurrent writers --------------------------------------------------------------------------

def _record_at_once(barrier: threading.Barrier, run_dir: str, url: str, errors: list[str]) -> None:
    try:
        barrier.wait(timeout=60)
        history.record(run_dir, url=url)
    except Exception as exc:  # reported by the test, not swallowed
        errors.append(repr(exc))


def _record_in_process(barrier: multiprocessing.synchronize.Barrier, run_dir: str, url: str) -> None:
    barrier.wait(timeout=60)
    history.record(run_dir, url=url)


def test_twenty_processes_recording_at_once_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fleet.sqlite"  # not made yet: they race to create the table too
    dirs = [str(make_run(tmp_path, f"run-{i:02d}", started=f"2025-04-01T10:00:{i:02d}Z")) for i in range(20)]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(20)
    procs = [ctx.Process(target=_record_in_process, args=(barrier, d, url)) for d in dirs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0] * 20
    assert sorted(r.run_id for r in history.runs(url=url)) == [f"run-{i:02d}" for i in range(20)]


def test_twenty_threads_and_the_same_run_recorded_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/threads.sqlite"
    dirs = [str(make_run(tmp_path, f"t-{i:02d}")) for i in range(20)]
    jobs = dirs + dirs[:5]  # five runs recorded twice, at the same moment as everything else
    barrier, errors = threading.Barrier(len(jobs)), []
    threads = [threading.Thread(target=_record_at_once, args=(barrier, d, url, errors)) for d in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    assert sorted(r.run_id for r in history.runs(url=url)) == [f"t-{i:02d}" for i in range(20)]


def test_a_lock_held_past_the_busy_timeout_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite3 gives up waiting after its busy timeout ("database is locked"); the write is
    then retried as a whole rather than lost."""
    db = tmp_path / "locked.sqlite"
    history.record(make_run(tmp_path, "first"), db=db)
    monkeypatch.setattr(history, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(history, "_engines", {})
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.0, holder.execute, args=("COMMIT",))
    release.start()
    t0 = time.monotonic()
    try:
        history.record(make_run(tmp_path, "second"), db=db)
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - t0 >= 0.9  # it did wait for the lock
    assert {r.run_id for r in history.runs(db)} == {"first", "second"}
