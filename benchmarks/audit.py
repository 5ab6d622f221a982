"""Offline `drills audit` on a generated schema of 10,000 tables and a 1,000-entry filter
list (patterns included). Target: under 2 s for parse + audit.

Baseline measured in the same run: the naive O(tables x entries) matcher (every entry's
LIKE regex tried on every table), which is what the audit would cost without the
prefix-bisect index of `drills.audit.matcher`.

    .venv/bin/python benchmarks/audit.py [--tables 10000] [--entries 1000]
"""

from __future__ import annotations

import argparse
import random
import time

from drills.audit.matcher import FilterIndex, naive_match
from drills.audit.rules import AuditContext, run_rules
from drills.audit.sqldump import parse_sql
from drills.filter_list import FilterEntry, FilterList

KINDS = ("orders", "order_items", "customer", "tmp_bak", "job_log", "config", "report", "audit")


def generate(tables: int, entries: int, seed: int = 7) -> tuple[str, FilterList]:
    rng = random.Random(seed)
    dbs = [f"svc{d:02d}" for d in range(max(1, tables // 500))]
    names: list[str] = []
    parts = []
    for i in range(tables):
        db = dbs[i % len(dbs)]
        kind = KINDS[i % len(KINDS)]
        name = f"{kind}_{i:05d}"
        names.append(f"{db}.{name}")
        cols = [f"  `id` bigint(20) unsigned NOT NULL{' AUTO_INCREMENT' if i % 3 else ''}",
                "  `name` varchar(64) NOT NULL DEFAULT '' COMMENT 'name'",
                "  `amount` decimal(12,2) DEFAULT NULL",
                "  `created_at` datetime DEFAULT NULL"]
        if kind == "orders":
            cols.append("  `customer_id` bigint(20) NOT NULL")
        if kind == "job_log":
            cols.append("  `dc` varchar(8) NOT NULL")
        pk = "  PRIMARY KEY (`id`)" if i % 50 else "  KEY `name` (`name`)"
        parts.append(f"CREATE TABLE `{db}`.`{name}` (\n" + ",\n".join([*cols, pk]) + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    sql = "\n".join(parts)
    chosen: list[FilterEntry] = []
    seen: set[str] = set()
    n_patterns = entries * 3 // 10
    while len(chosen) < n_patterns:
        db = rng.choice(dbs)
        shape = rng.random()
        if shape < 0.6:
            pattern = f"{db}.tmp_bak_{rng.randint(0, 99):02d}%"
        elif shape < 0.9:
            pattern = f"{db}.{rng.choice(KINDS)}_{rng.randint(0, 9)}%"
        elif shape < 0.97:
            pattern = f"{db}.%_{rng.randint(0, 9999):04d}"
        else:
            pattern = f"%.report_{rng.randint(0, 99):02d}%"
        if pattern not in seen:
            seen.add(pattern)
            chosen.append(FilterEntry(pattern, True, line=len(chosen) + 2))
    while len(chosen) < entries:
        name = rng.choice(names) if rng.random() < 0.95 else f"{rng.choice(dbs)}.gone_{rng.randint(0, 99999)}"
        if name not in seen:
            seen.add(name)
            chosen.append(FilterEntry(name, False, line=len(chosen) + 2))
    return sql, FilterList(chosen, source="generated.yaml")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=10_000)
    ap.add_argument("--entries", type=int, default=1_000)
    args = ap.parse_args()
    sql, flist = generate(args.tables, args.entries)
    print(f"generated: {args.tables} tables ({len(sql) / 1e6:.1f} MB of SQL), {len(flist.entries)} entries "
          f"({len(flist.wild_ignore_tables)} patterns)")

    t0 = time.perf_counter()
    schema = parse_sql(sql, file="generated.sql")
    t1 = time.perf_counter()
    ctx = AuditContext(filter_list=flist, dc1=schema)
    findings = run_rules(ctx)
    t2 = time.perf_counter()
    index_s = _time(lambda: FilterIndex.build(flist, schema.tables))
    naive_s = _time(lambda: naive_match(flist, schema.tables))
    assert {k: sorted(v) for k, v in FilterIndex.build(flist, schema.tables).entries_by_table.items()} == {
        k: sorted(v) for k, v in naive_match(flist, schema.tables).items()}, "index and naive matcher disagree"

    total = t2 - t0
    print(f"parse .sql:               {t1 - t0:7.3f} s")
    print(f"rules (all 11):           {t2 - t1:7.3f} s   ({len(findings)} findings)")
    print(f"offline audit total:      {total:7.3f} s   target < 2 s: {'OK' if total < 2 else 'MISSED'}")
    print(f"matching, indexed:        {index_s:7.3f} s")
    print(f"matching, naive baseline: {naive_s:7.3f} s   ({naive_s / index_s:.0f}x slower; O(tables x entries))")


def _time(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
