"""The faster consistency engine against real MariaDB: every speed-up still finds a real
difference.

- Whole-table pass first: a table identical whole is never planned in chunks (no planner
  connection is even opened), yet one changed row in a million, a row on one side only,
  a value changed in a column with NULLs, and values swapped between two rows are all
  named by key, in the same chunk as before.
- The row hash (CRC32 over CRC32's digits) finds edits that cancel under the naive
  BIT_XOR(CRC32(...)) and SUM(CRC32(...)), which this file shows the server computing equal.
- CHECKSUM TABLE was measured as a fast path and dropped: it does not prove equality (two
  VARCHARs are checksummed as one byte stream, so ('ab', 'c') and ('a', 'bc') agree).
- Batched metadata and tables pipelined per side: among many tables, only the one that
  differs is reported, and a table defined differently or missing on one side still is.

Rows are loaded into each server directly, outside the binary log: identical by
construction, and faster than through replication.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from drills.observe import consistency
from drills.topology.processes import in_parallel

pytestmark = pytest.mark.integration

ROWS = 1_000_000
MANY = 30


def unlogged(topo, dc: str, *statements: str) -> None:  # noqa: ANN001 - Topology
    conn = topo.connect(dc, read_timeout=600)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def on_both(topo, *statements: str) -> None:  # noqa: ANN001 - Topology
    """The same statements on dc1 and dc2 at once, outside the binary log."""
    in_parallel(lambda dc=dc: unlogged(topo, dc, *statements) for dc in ("dc1", "dc2"))


def scalar_row(topo, dc: str, sql: str) -> tuple:  # noqa: ANN001 - Topology
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return tuple(cur.fetchone())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def speed(topology):  # noqa: ANN001 - Topology
    """The baseline topology plus `speed.rows` (1,000,000 rows, a nullable column),
    `speed.pairs` and `speed.names`, identical on both sides; dropped at the end."""
    from drills.topology import local
    from drills.topology.spec import TopologySpec

    spec = TopologySpec()
    local.reset(topology, filter_list=spec.filter_list, schema=spec.schema_file, seed=spec.seed)
    topo = local.attach(topology.state_dir)
    on_both(topo, "CREATE DATABASE speed",
            "CREATE TABLE speed.rows (id INT UNSIGNED NOT NULL PRIMARY KEY, v INT NOT NULL, note VARCHAR(16) NULL)",
            f"INSERT INTO speed.rows SELECT seq, seq % 1000, IF(seq % 5 = 0, NULL, CONCAT('n', seq % 97)) "
            f"FROM speed.seq_1_to_{ROWS}",
            "CREATE TABLE speed.pairs (id INT UNSIGNED NOT NULL PRIMARY KEY, v INT NOT NULL)",
            "INSERT INTO speed.pairs SELECT seq, 0 FROM speed.seq_10000_to_12000",
            "CREATE TABLE speed.names (id INT NOT NULL PRIMARY KEY, a VARCHAR(8) NOT NULL, b VARCHAR(8) NOT NULL)")
    yield topo
    on_both(topo, "DROP DATABASE IF EXISTS speed", "DROP DATABASE IF EXISTS speed_many")


@contextmanager
def on_dc2_until_undone(topo, change: list[str], undo: list[str]) -> Iterator[None]:  # noqa: ANN001 - Topology
    """A divergence made directly on dc2 (unlogged), undone afterwards."""
    unlogged(topo, "dc2", *change)
    try:
        yield
    finally:
        unlogged(topo, "dc2", *undo)


def counted(topo, opened: list[str]) -> tuple[consistency.Server, consistency.Server]:  # noqa: ANN001 - Topology
    """dc1 and dc2 on the observer path, recording every connection opened."""
    def server(dc: str) -> consistency.Server:
        inner = consistency.Server.from_topology(topo, dc)

        def open_() -> object:
            opened.append(dc)
            return inner.open()

        return consistency.Server(inner.name, inner.where, open_)

    return server("dc1"), server("dc2")


def compare(topo, tables: list[str], opened: list[str] | None = None) -> consistency.ConsistencyResult:  # noqa: ANN001
    dc1, dc2 = counted(topo, [] if opened is None else opened)
    return consistency.compare(dc1, dc2, tables, filter_list=topo.declared_filters, chunk_size=10_000,
                               detect_roles=True)


def test_a_million_identical_rows_pass_whole_without_a_chunk_plan(speed):
    opened: list[str] = []
    result = compare(speed, ["speed.rows"], opened)
    table = result.tables[0]
    assert result.identical and result.position.exact
    assert table.rows == {"dc1": ROWS, "dc2": ROWS} and table.chunks == 100  # the chunks the plan would have
    assert sorted(opened) == ["dc1", "dc2"]  # no third connection: nothing was planned


def test_one_changed_row_in_a_million_is_named_in_its_chunk(speed):
    opened: list[str] = []
    with on_dc2_until_undone(speed, ["UPDATE speed.rows SET v = v + 1 WHERE id = 777777"],
                             ["UPDATE speed.rows SET v = v - 1 WHERE id = 777777"]):
        result = compare(speed, ["speed.rows"], opened)
    table = result.tables[0]
    assert not result.identical and result.position.exact
    assert table.diff.differing == [(777777,)] and table.diff.keys() == {(777777,)}
    assert [c.first for c in table.mismatched_chunks] == [(770001,)] and table.chunks == 100
    assert sorted(opened) == ["dc1", "dc1", "dc2"]  # the planner, only for the table that differs


def test_a_row_on_one_side_only_is_named_at_either_end_of_the_key_space(speed):
    with on_dc2_until_undone(speed, ["DELETE FROM speed.rows WHERE id = 1",
                                     f"INSERT INTO speed.rows VALUES ({ROWS + 5}, 0, NULL)"],
                             ["INSERT INTO speed.rows VALUES (1, 1, 'n1')", f"DELETE FROM speed.rows WHERE id = {ROWS + 5}"]):
        result = compare(speed, ["speed.rows"])
    table = result.tables[0]
    assert table.rows == {"dc1": ROWS, "dc2": ROWS}  # same count: only the keys tell
    assert table.diff.missing == {"dc1": [(ROWS + 5,)], "dc2": [(1,)]} and table.diff.differing == []


def test_a_value_changed_in_a_column_with_nulls_is_named(speed):
    """NULL -> '', a value -> NULL, NULL -> the string 'NULL': each is a difference."""
    assert scalar_row(speed, "dc1", "SELECT note IS NULL, note FROM speed.rows WHERE id = 500000") == (1, None)
    with on_dc2_until_undone(speed, ["UPDATE speed.rows SET note = '' WHERE id = 500000",
                                     "UPDATE speed.rows SET note = NULL WHERE id = 500001",
                                     "UPDATE speed.rows SET note = 'NULL' WHERE id = 600000"],
                             ["UPDATE speed.rows SET note = NULL WHERE id IN (500000, 600000)",
                              "UPDATE speed.rows SET note = CONCAT('n', 500001 % 97) WHERE id = 500001"]):
        result = compare(speed, ["speed.rows"])
    assert sorted(result.tables[0].diff.differing) == [(500000,), (500001,), (600000,)]


def test_values_swapped_between_two_rows_are_named(speed):
    a, b = (scalar_row(speed, "dc1", f"SELECT v, note FROM speed.rows WHERE id = {k}") for k in (123456, 123457))
    assert a != b
    swap = ["UPDATE speed.rows SET v = %d, note = '%s' WHERE id = 123456" % (b[0], b[1]),
            "UPDATE speed.rows SET v = %d, note = '%s' WHERE id = 123457" % (a[0], a[1])]
    undo = ["UPDATE speed.rows SET v = %d, note = '%s' WHERE id = 123456" % (a[0], a[1]),
            "UPDATE speed.rows SET v = %d, note = '%s' WHERE id = 123457" % (b[0], b[1])]
    with on_dc2_until_undone(speed, swap, undo):
        result = compare(speed, ["speed.rows"])
    assert sorted(result.tables[0].diff.differing) == [(123456,), (123457,)]


def test_edits_that_cancel_in_naive_crc32_sums_are_found(speed):
    """v 0 -> 1 on keys 10659 and 11002 flips the same CRC bits in both rows, and there
    the two CRCs disagree on every flipped bit: BIT_XOR and SUM of CRC32(CONCAT_WS(...))
    come out unchanged on the server itself (tests/unit/test_consistency_soundness.py
    shows how the pair is found)."""
    naive = ("SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', id, v))), SUM(CRC32(CONCAT_WS('#', id, v))) "
             "FROM speed.pairs")
    with on_dc2_until_undone(speed, ["UPDATE speed.pairs SET v = 1 WHERE id IN (10659, 11002)"],
                             ["UPDATE speed.pairs SET v = 0 WHERE id IN (10659, 11002)"]):
        assert scalar_row(speed, "dc1", naive) == scalar_row(speed, "dc2", naive)  # the blind spot, on MariaDB
        result = compare(speed, ["speed.pairs"])
    assert sorted(result.tables[0].diff.differing) == [(10659,), (11002,)]


def test_checksum_table_cannot_prove_equality_so_it_is_not_a_fast_path(speed):
    unlogged(speed, "dc1", "INSERT INTO speed.names VALUES (1, 'ab', 'c')")
    unlogged(speed, "dc2", "INSERT INTO speed.names VALUES (1, 'a', 'bc')")
    try:
        assert scalar_row(speed, "dc1", "CHECKSUM TABLE speed.names")[1] == \
            scalar_row(speed, "dc2", "CHECKSUM TABLE speed.names")[1]  # "equal"
        result = compare(speed, ["speed.names"])
    finally:
        on_both(speed, "DELETE FROM speed.names")
    assert result.tables[0].diff.differing == [(1,)]


def test_among_many_tables_only_the_differing_ones_are_reported(speed, monkeypatch):
    monkeypatch.setattr(consistency, "WHOLE_BATCH", 7)  # several statements, the last one short
    monkeypatch.setattr(consistency, "SHAPE_BATCH", 4)
    ddl = "(id INT NOT NULL PRIMARY KEY, v INT NOT NULL, note VARCHAR(16) NULL)"
    statements = ["CREATE DATABASE speed_many"]
    for i in range(MANY):
        statements += [f"CREATE TABLE speed_many.t{i:02d} {ddl}",
                       f"INSERT INTO speed_many.t{i:02d} SELECT seq, seq * {i}, IF(seq % 3 = 0, NULL, 'x') "
                       "FROM speed.seq_1_to_100"]
    on_both(speed, *statements)
    unlogged(speed, "dc2", "UPDATE speed_many.t17 SET note = NULL WHERE id = 41",
             "ALTER TABLE speed_many.t05 MODIFY note VARCHAR(20) NULL", "DROP TABLE speed_many.t23")
    names = [f"speed_many.t{i:02d}" for i in range(MANY)]
    for tables in (names, None):  # named, and every replicated table of the server
        result = compare(speed, tables)
        differing = {t.table: t for t in result.tables if not t.identical}
        assert set(differing) == {"speed_many.t05", "speed_many.t17", "speed_many.t23"}
        assert differing["speed_many.t17"].diff.differing == [(41,)]
        assert "type varchar(16) on dc1, varchar(20) on dc2" in differing["speed_many.t05"].problem
        assert differing["speed_many.t23"].problem == "table missing on dc2"
        identical = [t for t in result.tables if t.table.startswith("speed_many.") and t.identical]
        assert len(identical) == MANY - 3 and all(t.rows == {"dc1": 100, "dc2": 100} for t in identical)
