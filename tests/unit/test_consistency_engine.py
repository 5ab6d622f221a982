"""The consistency check's pure parts: chunk planning, the SQL it sends (NULL-safety,
identifier quoting, composite keys), DSN handling, and narrowing, the latter checked
against an in-memory model of the chunk checksum for random tables and random edits."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.errors import UserError
from drills.observe import consistency as c

ORDERS = c.TableShape("app", "orders", ("id", "buyer_id", "note"), frozenset({"note"}), ("id",))


# ---- SQL generation ---------------------------------------------------------------------------


def test_row_hash_flags_only_nullable_columns_so_null_empty_and_null_string_differ():
    sql = c.row_hash_sql(ORDERS)
    assert sql == "CRC32(CRC32(CONCAT_WS('#', `id`, `buyer_id`, `note`, ISNULL(`note`))))"


def test_equal_edits_to_two_rows_cancel_under_plain_crc32_but_not_under_the_row_hash():
    """Why the row hash is CRC32(CRC32(...)): CRC32 is affine, so the same one-digit edit on
    two equal-length rows flips the same bits and BIT_XOR over the chunk cancels them."""
    before = [b"96980#969.80#note-96980", b"97228#972.28#note-97228"]
    after = [b"96980#969.81#note-96980", b"97228#972.29#note-97228"]

    def plain(rows):
        return zlib.crc32(rows[0]) ^ zlib.crc32(rows[1])

    def nested(rows):
        return zlib.crc32(str(zlib.crc32(rows[0])).encode()) ^ zlib.crc32(str(zlib.crc32(rows[1])).encode())

    assert plain(before) == plain(after)  # the blind spot
    assert nested(before) != nested(after)


def model_concat_ws(shape: c.TableShape, row: dict[str, Any]) -> str:
    """What CONCAT_WS('#', cols..., ISNULL(nullable)...) yields: NULL arguments are skipped."""
    parts = [str(row[col]) for col in shape.columns if row[col] is not None]
    parts += ["1" if row[col] is None else "0" for col in shape.columns if col in shape.nullable]
    return "#".join(parts)


def test_null_empty_string_and_the_string_null_hash_differently():
    rows = [{"id": 1, "buyer_id": 2, "note": v} for v in (None, "", "NULL")]
    strings = {model_concat_ws(ORDERS, r) for r in rows}
    assert len(strings) == 3


def test_identifiers_are_quoted_with_backticks_doubled():
    shape = c.TableShape("my db", "we`ird", ("select", "a`b"), frozenset(), ("select",))
    sql, params = c.chunk_checksum_sql(shape, (5,), (9,))
    assert "FROM `my db`.`we``ird` FORCE INDEX (PRIMARY)" in sql
    assert "CONCAT_WS('#', `select`, `a``b`)" in sql
    assert "`select` >= %s AND `select` < %s" in sql
    assert params == [5, 9]


def test_values_are_parameters_never_spliced():
    sql, params = c.chunk_checksum_sql(ORDERS, ("1' OR '1'='1",), None)
    assert "OR '1'" not in sql and params == ["1' OR '1'='1"]


def test_composite_key_range_is_lexicographic():
    sql, params = c.range_predicate(("a", "b", "c"), (1, 2, 3), None)
    assert sql == "(`a` > %s OR (`a` = %s AND `b` > %s) OR (`a` = %s AND `b` = %s AND `c` >= %s))"
    assert params == [1, 1, 2, 1, 2, 3]
    sql, params = c.range_predicate(("a", "b"), None, (7, 8))
    assert sql == "(`a` < %s OR (`a` = %s AND `b` < %s))"
    assert params == [7, 7, 8]


def _eval_predicate(key_cols: tuple[str, ...], lower: tuple | None, upper: tuple | None, row: tuple) -> bool:
    """Evaluate the generated SQL predicate in Python (it only uses AND, OR, =, <, >, >=)."""
    sql, params = c.range_predicate(key_cols, lower, upper)
    expr = sql.replace("1=1", "True").replace("AND", "and").replace("OR", "or").replace(" = ", " == ")
    values = iter(params)
    expr = "".join(repr(next(values)) if ch == "%" else ch for ch in expr.replace("%s", "%"))
    env = {f"`{col}`": val for col, val in zip(key_cols, row, strict=True)}
    for name, val in env.items():
        expr = expr.replace(name, repr(val))
    return bool(eval(expr))  # noqa: S307 - our own generated, parameter-free expression


keys3 = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3))


@given(lower=st.none() | keys3, upper=st.none() | keys3, row=keys3)
def test_composite_predicate_matches_tuple_ordering(lower, upper, row):
    expected = (lower is None or row >= lower) and (upper is None or row < upper)
    assert _eval_predicate(("a", "b", "c"), lower, upper, row) == expected


def test_table_without_key_is_one_whole_table_checksum():
    shape = c.TableShape("app", "heap", ("x",), frozenset({"x"}))
    sql, params = c.chunk_checksum_sql(shape, None, None)
    assert "FORCE INDEX" not in sql and sql.endswith("WHERE 1=1") and params == []


def test_boundary_walk_query_orders_by_the_whole_key():
    shape = c.TableShape("app", "job_log", ("dc", "id"), frozenset(), ("id", "dc"))
    sql, _ = c.boundary_sql(shape, (10, "dc1"), 1000)
    assert sql.endswith("ORDER BY `id`, `dc` LIMIT 1 OFFSET 1000")


# ---- chunk planning -----------------------------------------------------------------------------


def test_empty_table_is_one_open_chunk():
    assert c.chunks_from_boundaries([]) == [c.Chunk(0, None, None, None)]


@given(st.lists(st.integers(-10**6, 10**6), unique=True, max_size=50).map(sorted), st.integers(-2 * 10**6, 2 * 10**6))
def test_chunks_partition_every_possible_key(firsts, key):
    chunks = c.chunks_from_boundaries([(k,) for k in firsts])
    holding = [ch for ch in chunks if (ch.lower is None or (key,) >= ch.lower) and (ch.upper is None or (key,) < ch.upper)]
    assert len(holding) == 1  # every key, even one the planning side lacks, is in exactly one chunk
    assert chunks[0].lower is None and chunks[-1].upper is None


# ---- DSNs ----------------------------------------------------------------------------------------


def test_dsn_is_parsed_with_urllib_and_percent_decoding():
    assert c.parse_dsn("mysql://app:p%40ss@db.example:3307", "dc1") == ("db.example", 3307, "app", "p@ss")
    assert c.parse_dsn("mysql://root@127.0.0.1", "dc2") == ("127.0.0.1", 3306, "root", "")


@pytest.mark.parametrize("dsn", ["127.0.0.1:3306", "postgres://u:secret@h:1", "mysql://u:secret@h:notaport",
                                 "mysql://u:secret@h:1/app"])
def test_bad_dsn_is_a_user_error_without_the_password(dsn):
    with pytest.raises(UserError) as err:
        c.parse_dsn(dsn, "dc2")
    assert "dc2" in str(err.value) and "secret" not in str(err.value)


def test_mask_dsn_hides_only_the_password():
    assert c.mask_dsn("mysql://app:s3cret@h:1") == "mysql://app:***@h:1"
    assert c.mask_dsn("mysql://app@h:1") == "mysql://app@h:1"


def test_server_repr_never_shows_the_password():
    server = c.Server.from_dsn("mysql://app:s3cret@h:1", "dc1")
    assert "s3cret" not in repr(server) and server.where == "app@h:1"


# ---- narrowing against an in-memory model of the chunk function -----------------------------------


def row_crc(value: Any) -> int:
    return zlib.crc32(repr(value).encode())


class MemorySide:
    """A side whose rows are a dict; checksum = (COUNT(*), BIT_XOR(crc)) over a key range."""

    def __init__(self, rows: dict[tuple, Any]):
        self.rows = rows
        self.queries = 0

    def _in(self, lower, upper):
        return sorted(k for k in self.rows if (lower is None or k >= lower) and (upper is None or k < upper))

    def checksum(self, lower, upper):
        self.queries += 1
        keys = self._in(lower, upper)
        crc = 0
        for k in keys:
            crc ^= row_crc((k, self.rows[k]))
        return len(keys), crc

    def row_hashes(self, lower, upper):
        self.queries += 1
        return {k: row_crc((k, self.rows[k])) for k in self._in(lower, upper)}

    def split(self, lower, upper, parts):
        keys = self._in(lower, upper)
        step = max(1, len(keys) // parts)
        return keys[step::step]


def compare_in_memory(a: MemorySide, b: MemorySide, chunk_size: int, row_limit: int) -> c.RowDiff:
    firsts = sorted(a.rows)[::chunk_size]
    diff = c.RowDiff(missing={"dc1": [], "dc2": []})
    for chunk in c.chunks_from_boundaries(firsts):
        ca, cb = a.checksum(chunk.lower, chunk.upper), b.checksum(chunk.lower, chunk.upper)
        if ca != cb:
            diff.extend(c.narrow("dc1", a, "dc2", b, chunk.lower, chunk.upper, split=a.split,
                                 rows=max(ca[0], cb[0]), row_limit=row_limit))
    return diff


composite_keys = st.tuples(st.integers(0, 30), st.sampled_from(["dc1", "dc2", "x"]))
tables = st.dictionaries(composite_keys, st.none() | st.text(max_size=3) | st.integers(), max_size=120)
edits = st.lists(
    st.tuples(st.sampled_from(["change", "delete", "insert"]), composite_keys, st.integers()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(rows=tables, edits=edits, chunk_size=st.integers(1, 40), row_limit=st.integers(1, 20))
def test_narrowing_finds_exactly_the_edited_keys(rows, edits, chunk_size, row_limit):
    replica = dict(rows)
    for action, key, value in edits:
        if action == "delete":
            replica.pop(key, None)
        elif action == "insert" and key not in replica:
            replica[key] = ("inserted", value)
        elif action == "change" and key in replica:
            replica[key] = ("changed", value)
    diff = compare_in_memory(MemorySide(rows), MemorySide(replica), chunk_size, row_limit)
    assert sorted(diff.differing) == sorted(k for k in rows if k in replica and rows[k] != replica[k])
    assert sorted(diff.missing["dc2"]) == sorted(k for k in rows if k not in replica)
    assert sorted(diff.missing["dc1"]) == sorted(k for k in replica if k not in rows)


def test_narrowing_is_cheaper_than_reading_every_row_of_a_large_chunk():
    rows = {(i,): i for i in range(10_000)}
    replica = dict(rows)
    replica[(4321,)] = -1
    a, b = MemorySide(rows), MemorySide(replica)
    diff = c.narrow("dc1", a, "dc2", b, None, None, split=a.split, rows=10_000, row_limit=100)
    assert diff.differing == [(4321,)]
    assert a.queries < 40  # bisected: a few checksums per level, one small per-row fetch


def test_identical_sides_have_no_mismatching_chunk():
    rows = {(i,): str(i) for i in range(100)}
    diff = compare_in_memory(MemorySide(rows), MemorySide(dict(rows)), 7, 5)
    assert diff.keys() == set()


def test_result_verdict_and_exit_code_follow_the_tables():
    identical = c.ConsistencyResult("dc1", "dc2", tables=[c.TableResult("app.orders", ["id"], chunks=1)])
    assert identical.verdict == "passed" and c.exit_code(identical) == 0
    differing = c.TableResult("app.orders", ["id"], chunks=1, mismatched_chunks=[c.Chunk(0, None, None, (1,))],
                              diff=c.RowDiff([(7,)], {"dc1": [], "dc2": [(9,)]}))
    failed = c.ConsistencyResult("dc1", "dc2", tables=[differing])
    assert failed.verdict == "failed" and c.exit_code(failed) == 1
    doc = failed.as_dict()["tables"][0]
    assert doc["differing"] == {"count": 1, "keys": [[7]]} and doc["missing"]["dc2"]["keys"] == [[9]]
    missing_table = c.ConsistencyResult("dc1", "dc2", tables=[c.TableResult("app.x", [], problem="table missing on dc2")])
    assert missing_table.verdict == "failed"


def test_gtid_positions_are_compared_per_origin():
    """A replica's own writes (another domain or server uuid) must not make the snapshot
    pair look inexact; a lagging sequence number must."""
    src = c._gtid_components("mariadb", "0-1-120")
    assert src == {"0": "120"}
    assert c._gtid_components("mariadb", "0-1-120,7-2-5")["0"] == src["0"]
    assert c._gtid_components("mariadb", "0-1-119")["0"] != src["0"]
    mysql = c._gtid_components("mysql", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\nabc:1-2")
    assert mysql == {"3e11fa47-71ca-11e1-9e33-c80aa9429562": "1-5", "abc": "1-2"}


def test_human_output_names_composite_keys_and_missing_rows():
    from drills.observe.commands import render

    table = c.TableResult("app.pairs", ["a", "b"], rows={"dc1": 4, "dc2": 3}, chunks=1,
                          mismatched_chunks=[c.Chunk(0, None, None, (1, "x"))],
                          diff=c.RowDiff([(1, "x")], {"dc1": [], "dc2": [(2, "y")]}))
    text = render(c.ConsistencyResult("dc1", "dc2", tables=[table], position=c.Position("0-1-5", "0-1-5", True)))
    assert text.startswith("data_consistency: FAILED (dc1 -> dc2")
    assert "differing (1): (a=1, b='x')" in text and "missing on dc2 (1): (a=2, b='y')" in text
    assert "missing on dc1" not in text  # nothing missing there: no empty line


def test_the_dsn_path_of_the_command_imports_neither_the_topology_nor_yaml():
    """`drills check consistency --dsn ... --dsn ...` pays only for what it uses: the
    topology package and the filter-list reader (with yaml) are 25-35 ms of start-up."""
    import subprocess
    import sys

    code = ("import sys, drills.cli, drills.observe.commands; "
            "print(sorted(m for m in ('yaml', 'drills.filter_list', 'drills.topology.state') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
