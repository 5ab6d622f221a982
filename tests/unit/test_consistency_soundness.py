"""Why the faster consistency engine still finds every difference it found before.

Pure: the server's functions are modelled in Python (MariaDB's CRC32() is zlib's CRC-32,
CONCAT_WS skips NULLs), and the real server repeats the decisive cases in
tests/integration/test_consistency_speedups.py.

- The row hash is CRC32 over the decimal digits of CRC32(CONCAT_WS(...)). CRC32 alone is
  affine over GF(2), so the same edit at the same place in two rows changes both CRCs by the
  same bits: BIT_XOR over the rows cancels it always, and SUM cancels it whenever the two
  CRCs hold opposite bits where the change lands (one pair in 2**15 here, found in a few
  hundred keys). The decimal round trip is not affine, so the two changes no longer line up.
- The key is hashed with the row, so values swapped between rows change both rows' hashes.
- The whole-table pass runs first: with chunks partitioning the keys, the whole table's
  (COUNT, BIT_XOR) is the sum and XOR of its chunks', so a table whose chunks differ differs
  whole; a table that passes whole is never planned.
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import pymysql
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.observe import consistency as c


def crc32(text: str) -> int:
    return zlib.crc32(text.encode())


def concat_ws(values: Iterable[Any]) -> str:
    """CONCAT_WS('#', ...): NULL (None) arguments are skipped."""
    return "#".join(str(v) for v in values if v is not None)


def row_text(key: int, value: str | None) -> str:
    """The engine's CONCAT_WS for (id, v NULL): the nullable column adds ISNULL(v)."""
    return concat_ws([key, value, int(value is None)])


def our_hash(text: str) -> int:
    """What `row_hash_sql` computes: CRC32(CRC32(...)), the inner one as decimal digits."""
    return crc32(str(crc32(text)))


def xor_all(hashes: Iterable[int]) -> int:
    out = 0
    for h in hashes:
        out ^= h
    return out


def checksum(rows: dict[int, str], row_hash: Callable[[str], int], combine: Callable[[Iterable[int]], int]) -> tuple[int, int]:
    """(COUNT(*), aggregate of the row hashes), as one chunk or table checksum."""
    return len(rows), combine(row_hash(f"{k}#{v}") for k, v in rows.items())


# ---- compensating changes ----------------------------------------------------------------------


def test_the_model_is_the_servers_crc32():
    assert crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339  # CRC-32/ISO-HDLC, as CRC32() in SQL
    assert row_text(7, None) == "7#1" and row_text(7, "") == "7##0" and row_text(7, "NULL") == "7#NULL#0"


def test_equal_edits_to_two_rows_cancel_in_xor_of_crc32_but_not_in_our_hash():
    before, after = {10659: "0", 11002: "0"}, {10659: "1", 11002: "1"}  # the same one-bit edit, same place
    assert checksum(before, crc32, xor_all) == checksum(after, crc32, xor_all)  # naive BIT_XOR(CRC32(...)): blind
    assert checksum(before, our_hash, xor_all) != checksum(after, our_hash, xor_all)


def test_equal_edits_that_cancel_in_sum_of_crc32_are_found_in_a_few_hundred_keys_and_still_caught():
    """SUM instead of BIT_XOR is no cure: the edit flips the same 15 bits in every row's
    CRC, and two rows whose CRCs disagree on all of them move by opposite amounts."""
    moves: dict[int, int] = {}
    pair = None
    for k in range(10_000, 100_000):
        move = crc32(f"{k}#1") - crc32(f"{k}#0")
        if -move in moves:
            pair = (moves[-move], k)
            break
        moves.setdefault(move, k)
    assert pair is not None and pair[1] - 10_000 < 2_000  # such pairs are common, not contrived
    before, after = dict.fromkeys(pair, "0"), dict.fromkeys(pair, "1")
    assert checksum(before, crc32, sum) == checksum(after, crc32, sum)  # naive SUM(CRC32(...)): blind
    assert checksum(before, crc32, xor_all) == checksum(after, crc32, xor_all)
    assert checksum(before, our_hash, xor_all) != checksum(after, our_hash, xor_all)
    assert checksum(before, our_hash, sum) != checksum(after, our_hash, sum)


def test_values_swapped_between_rows_change_the_checksum_because_the_key_is_hashed():
    before, after = {1: "alice", 2: "bob"}, {1: "bob", 2: "alice"}

    def values_only(rows: dict[int, str]) -> tuple[int, int]:
        return len(rows), xor_all(our_hash(v) for v in rows.values())

    assert values_only(before) == values_only(after)  # a hash of the values alone: blind
    assert checksum(before, our_hash, xor_all) != checksum(after, our_hash, xor_all)


def test_null_empty_and_the_string_null_differ_in_a_nullable_column():
    texts = {row_text(5, v) for v in (None, "", "NULL")}
    assert len(texts) == 3 and len({our_hash(t) for t in texts}) == 3


# ---- the whole-table pass -------------------------------------------------------------------------


def table_sum(rows: dict[int, str | None], lower: int | None = None, upper: int | None = None) -> tuple[int, int]:
    inside = {k: v for k, v in rows.items() if (lower is None or k >= lower) and (upper is None or k < upper)}
    return len(inside), xor_all(our_hash(row_text(k, v)) for k, v in inside.items())


tables = st.dictionaries(st.integers(0, 400), st.none() | st.sampled_from(["", "NULL", "a", "b", "ab"]), max_size=80)
edits = st.lists(st.tuples(st.sampled_from(["change", "delete", "insert"]), st.integers(-5, 405),
                           st.none() | st.sampled_from(["", "NULL", "a", "b", "ab", "c"])), max_size=6)


@settings(max_examples=300, deadline=None)
@given(rows=tables, edits=edits, chunk_size=st.integers(1, 30))
def test_a_table_differs_whole_exactly_when_some_chunk_differs(rows, edits, chunk_size):
    replica = dict(rows)
    for action, key, value in edits:
        if action == "delete":
            replica.pop(key, None)
        elif (action == "insert") != (key in replica):  # insert a new key, or change an existing one
            replica[key] = value
    chunks = c.chunks_from_boundaries([(k,) for k in sorted(rows)[::chunk_size]])
    per_chunk = [(table_sum(rows, *bounds), table_sum(replica, *bounds))
                 for bounds in ((ch.lower and ch.lower[0], ch.upper and ch.upper[0]) for ch in chunks)]
    for side in (0, 1):  # the whole is the chunks added and XORed together
        assert sum(p[side][0] for p in per_chunk) == table_sum((rows, replica)[side])[0]
        assert xor_all(p[side][1] for p in per_chunk) == table_sum((rows, replica)[side])[1]
    some_chunk_differs = any(a != b for a, b in per_chunk)
    assert some_chunk_differs == (rows != replica)
    assert (table_sum(rows) != table_sum(replica)) == (rows != replica)


def test_whole_tables_are_one_statement_tagged_per_table():
    keyed = c.TableShape("app", "we`ird", ("id", "v"), frozenset({"v"}), ("id",))
    heap = c.TableShape("app", "heap", ("x",))
    sql = c.whole_tables_sql([keyed, heap])
    first, second = sql.split(" UNION ALL ")
    assert first == ("SELECT 0, COUNT(*), COALESCE(BIT_XOR(CRC32(CRC32(CONCAT_WS('#', `id`, `v`, ISNULL(`v`))))), 0) "
                     "FROM `app`.`we``ird` FORCE INDEX (PRIMARY)")
    assert second.startswith("SELECT 1, COUNT(*)") and second.endswith("FROM `app`.`heap`")  # no key: no index to force


@given(st.integers(0, 3000), st.integers(1, 700))
def test_chunks_reported_for_an_identical_table_are_the_chunks_its_plan_would_have(rows, chunk_size):
    firsts = [(k,) for k in range(rows)][::chunk_size]  # what the planner's walk finds: every chunk_size-th key
    assert c._chunks_spanned(rows, chunk_size) == len(c.chunks_from_boundaries(firsts))


# ---- connections: one TLS context, same verification as pymysql's default -----------------------


def test_default_tls_context_is_shared_and_verifies_exactly_as_pymysqls_own():
    ours, again = c._Connection(defer_connect=True), c._Connection(defer_connect=True)
    theirs = pymysql.connections.Connection(defer_connect=True)
    assert ours.ssl and not ours._ssl_required  # still TLS if the server offers it, plain otherwise
    assert ours.ctx is again.ctx  # built once, not per connection
    assert (ours.ctx.verify_mode, ours.ctx.check_hostname) == (theirs.ctx.verify_mode, theirs.ctx.check_hostname)
    assert ours.ctx.verify_mode == ssl.CERT_NONE and ours.ctx.protocol == ssl.PROTOCOL_TLS_CLIENT


def test_explicit_tls_options_still_get_pymysqls_own_verifying_context():
    conn = c._Connection(defer_connect=True, ssl_verify_identity=True)
    assert conn._ssl_required and conn.ctx is not c._unverified_tls_context()
    assert conn.ctx.verify_mode == ssl.CERT_REQUIRED
