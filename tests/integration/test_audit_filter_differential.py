"""Issue 18, item 12: the audit's reading of a filter list equals the replica's.

Differential: Hypothesis generates table names and filter entries (`%`, `_`, `\\_`, `\\%`,
mixed case, dots, backticks, accents), applies them as dc2's replicate_wild_ignore_table /
replicate_ignore_table on the running topology, creates the tables on both sides, writes
one row to each on dc1, waits for dc2 to catch up and compares what dc2 did (row there:
replicated; no row: filtered) with the prediction of the audit's matcher
(`drills.audit.matcher.FilterIndex`) and of `FilterEntry.matches` (used by the canaries).

The filters of the topology are restored and the throwaway databases dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from drills.audit.matcher import FilterIndex
from drills.filter_list import FilterEntry, FilterList, fold_pattern_text
from drills.mysql import admin

pytestmark = pytest.mark.integration

DBS = ("dfz_a", "DFZ_b")  # lower_case_table_names=0: two databases differing in case
_name_chars = "aAbBz_%.\\`é1"
_table_name = st.text(alphabet=_name_chars, min_size=1, max_size=8).filter(lambda s: not s.endswith(" "))


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _pattern_from(rng: st.DrawFn, name: str) -> str:
    """A pattern derived from an existing name, so that matches are likely but not certain."""
    out = []
    for c in name:
        roll = rng(st.integers(0, 9))
        if roll == 0:
            out.append("%")
        elif roll == 1:
            out.append("_")
        elif roll == 2 and c in "_%\\":
            out.append("\\" + c)
        elif roll == 3:
            out.append(c.swapcase())
        elif roll == 4:
            continue
        else:
            out.append(c)
    if rng(st.booleans()):
        out.append(rng(st.sampled_from(["%", "_", "\\_", "\\%", "\\", ""])))
    return "".join(out)


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    tables = draw(st.lists(st.tuples(st.sampled_from(DBS), _table_name), min_size=2, max_size=7, unique=True))
    wild = []
    for _ in range(draw(st.integers(1, 4))):
        db, name = draw(st.sampled_from(tables))
        db_part = draw(st.sampled_from([db, db.swapcase(), "dfz%", "%", "d_z\\_a", "DFZ\\_%"]))
        pattern = f"{db_part}.{_pattern_from(draw, name)}" if draw(st.integers(0, 4)) else _pattern_from(draw, f"{db}.{name}")
        if "." in pattern and "," not in pattern and not pattern.startswith(" "):
            wild.append(pattern)
    exact = [f"{db.swapcase() if draw(st.booleans()) else db}.{name.swapcase() if draw(st.booleans()) else name}"
             for db, name in draw(st.lists(st.sampled_from(tables), max_size=2, unique=True))]
    return tables, sorted(set(wild)), sorted(set(exact))


@pytest.fixture
def replica(clean_topology) -> Iterator:  # noqa: ANN001 - Topology
    """dc1 -> dc2 at the baseline, and a cleanup that restores the declared filters and drops
    the throwaway databases."""
    topology = clean_topology
    dc1, dc2 = topology.connect("dc1"), topology.connect("dc2")
    try:
        yield topology, dc1, dc2
    finally:
        for conn in (dc1, dc2):
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")
                for db in DBS:
                    cur.execute(f"DROP DATABASE IF EXISTS {_q(db)}")
        admin.stop_replica(dc2)
        admin.set_filters(dc2, topology.declared_filters.as_filters())
        admin.start_replica(dc2)
        status = admin.replica_status(dc2)
        dc1.close()
        dc2.close()
        assert status is not None and not status.last_sql_error, status


def _observe(dc1, dc2, tables: list[tuple[str, str]], wild: list[str], exact: list[str]) -> dict[tuple[str, str], bool]:  # noqa: ANN001
    """Apply the filters on dc2, write one row per table on dc1; (db, table) -> filtered?"""
    admin.stop_replica(dc2)
    admin.set_filters(dc2, {"ignore_tables": exact, "wild_ignore_tables": wild})
    admin.start_replica(dc2)
    assert admin.read_filters(dc2) == {"ignore_tables": sorted(exact), "wild_ignore_tables": sorted(wild)}
    for conn in (dc1, dc2):
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")  # each side creates its own tables: DDL is not what is tested
            for db in DBS:
                cur.execute(f"DROP DATABASE IF EXISTS {_q(db)}")
                cur.execute(f"CREATE DATABASE {_q(db)}")
            for db, name in tables:
                cur.execute(f"CREATE TABLE {_q(db)}.{_q(name)} (id INT PRIMARY KEY)")
            cur.execute("SET SESSION sql_log_bin = 1")
    with dc1.cursor() as cur:
        for db, name in tables:
            cur.execute(f"INSERT INTO {_q(db)}.{_q(name)} VALUES (1)")
    assert admin.wait_for_gtid(dc2, admin.gtid_executed(dc1), 20), admin.replica_status(dc2)
    status = admin.replica_status(dc2)
    assert status is not None and status.sql_running and not status.last_sql_error, status
    seen = {}
    with dc2.cursor() as cur:
        for db, name in tables:
            cur.execute(f"SELECT COUNT(*) FROM {_q(db)}.{_q(name)}")
            seen[(db, name)] = cur.fetchone()[0] == 0
    return seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_case())
def test_audit_predicts_what_the_replica_filters(replica, case) -> None:  # noqa: ANN001
    topology, dc1, dc2 = replica
    tables, wild, exact = case
    observed = _observe(dc1, dc2, tables, wild, exact)
    event(f"{sum(observed.values())} of {len(observed)} tables filtered")
    flist = FilterList.from_filters(exact, wild)
    index = FilterIndex.build(flist, [f"{db}.{name}" for db, name in tables])
    for (db, name), filtered in observed.items():
        key = f"{db}.{name}"
        assert flist.is_filtered(key) == filtered, (key, filtered, wild, exact)
        assert index.is_filtered(key) == filtered, (key, filtered, wild, exact)


def test_known_cases_on_the_replica(replica) -> None:  # noqa: ANN001
    """The cases issue 18 names, and what MariaDB 10.11 was measured to do with them."""
    _topology, dc1, dc2 = replica
    tables = [("dfz_a", "tmp_1"), ("dfz_a", "tmpx1"), ("dfz_a", "Tmp_2"), ("dfz_a", "tmpé"), ("dfz_a", "q.r"),
              ("dfz_a", "bär"), ("dfz_a", "Foo"), ("DFZ_b", "100%"), ("DFZ_b", "1000")]
    wild = ["dfz_a.tmp\\_%", "dfz_a.tmpe", "dfz_a.%.r", "dfz_b.100\\%"]
    exact = ["DFZ_A.foo", "dfz_a.BAR"]
    observed = _observe(dc1, dc2, tables, wild, exact)
    assert {t for t, filtered in observed.items() if filtered} == {
        ("dfz_a", "tmp_1"), ("dfz_a", "Tmp_2"), ("dfz_a", "tmpé"), ("dfz_a", "q.r"), ("dfz_a", "Foo"), ("DFZ_b", "100%")}
    flist = FilterList.from_filters(exact, wild)
    assert {t for t in observed if flist.is_filtered(f"{t[0]}.{t[1]}")} == {t for t, f in observed.items() if f}
    assert not FilterEntry("dfz_a.BAR", False).matches("dfz_a.bär")  # exact entries are accent-sensitive


def test_pattern_folding_is_the_servers_general_ci(topology) -> None:  # noqa: ANN001
    """Every character MariaDB's case tables fold, compared with WEIGHT_STRING on the server."""
    pages = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x1E, 0x1F, 0x21, 0x24, 0xFF, 0x10, 0x4E]  # 0x10, 0x4E: never folded
    chars = [chr(p * 256 + i) for p in pages for i in range(256) if not 0xD800 <= p * 256 + i < 0xE000]
    conn = topology.connect("dc1")
    try:
        with conn.cursor() as cur:
            wrong = []
            for i in range(0, len(chars), 500):
                chunk = chars[i:i + 500]
                cur.execute("SELECT " + ",".join(["HEX(WEIGHT_STRING(CONVERT(%s USING utf8mb3) COLLATE utf8mb3_general_ci))"] * len(chunk)),
                            chunk)
                for c, weight in zip(chunk, cur.fetchone(), strict=True):
                    if fold_pattern_text(c) != chr(int(weight, 16)):
                        wrong.append((hex(ord(c)), weight))
    finally:
        conn.close()
    assert not wrong, wrong[:20]
