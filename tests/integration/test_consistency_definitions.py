"""The consistency engine compares what a column *is* on both sides, not only its name."""

from __future__ import annotations

import pytest

from drills.observe import consistency

pytestmark = pytest.mark.integration


def _unlogged(topo, dc: str, sql: str) -> None:  # noqa: ANN001 - Topology
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(sql)
    finally:
        conn.close()


@pytest.mark.parametrize(("alter", "expected"), [
    ("ALTER TABLE app.customers MODIFY name VARCHAR(64) NULL", "nullable NO on dc1, YES on dc2"),
    ("ALTER TABLE app.customers MODIFY name VARCHAR(80) NOT NULL", "type varchar(64) on dc1, varchar(80) on dc2"),
    ("ALTER TABLE app.customers MODIFY name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
     "collation utf8mb4_general_ci on dc1, utf8mb4_bin on dc2"),
])
def test_a_column_defined_differently_is_a_difference(clean_topology, alter: str, expected: str) -> None:  # noqa: ANN001
    """Issue 10: equal column names over different types, nullability or collation hash the
    rows of today alike and diverge tomorrow (a value that fits one side and not the other)."""
    _unlogged(clean_topology, "dc2", alter)
    result = consistency.check(clean_topology, ["app.customers"])
    table = next(t for t in result.tables if t.table == "app.customers")
    assert not result.identical and table.problem and expected in table.problem, table.problem
