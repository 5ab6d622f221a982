"""`drills check consistency`: the data_consistency check usable on its own, against a
running topology (its state directory) or any two servers given by DSN, so an operator
can ask "are dc1 and dc2 identical?" outside a drill. Exit 0 identical, 1 differences
found, 2 the comparison could not be made (the message names the server; no password)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from drills.errors import EXIT_USAGE, UserError
from drills.observe import consistency

if TYPE_CHECKING:
    from drills.filter_list import FilterList


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check", help="run one check against a live topology or two servers")
    sub = check.add_subparsers(dest="check_command", metavar="CHECK")
    check.set_defaults(func=lambda args: (check.print_help(), EXIT_USAGE)[1])
    p = sub.add_parser(
        "consistency",
        help="compare replicated tables on both sides by chunked checksums",
        description="Compare every replicated (non-filtered) table on dc1 and dc2 at one GTID position; "
        "name the differing primary keys. Exit 0 identical, 1 differences, 2 error.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--state-dir", metavar="DIR", help="state directory of a running topology (drills env up)")
    where.add_argument("--dsn", action="append", metavar="DSN", default=None,
                       help="mysql://user:password@host:port; give twice: dc1 then dc2")
    p.add_argument("--tables", metavar="DB.T,...", help="only these tables (default: all replicated tables)")
    p.add_argument("--filter-list", metavar="FILE", help="filter list to skip (default: the topology's declared "
                   "filters, or the replica's effective replication filters)")
    p.add_argument("--chunk-size", type=_chunk_size, default=consistency.DEFAULT_CHUNK_SIZE, metavar="N",
                   help=f"rows per chunk (default {consistency.DEFAULT_CHUNK_SIZE})")
    p.add_argument("--wait-timeout", type=_wait_seconds, default=30.0, metavar="S",
                   help="seconds to wait for the replica to reach the source's position (default 30, at most 86400)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_consistency)


def _chunk_size(text: str) -> int:
    """Rows per chunk: a whole number from 1 to 1,000,000,000 (it becomes a LIMIT/OFFSET)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= 1_000_000_000:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows from 1 to 1000000000, got {text[:20]!r}")
    return int(text)


def _wait_seconds(text: str) -> float:
    """Seconds to wait: finite, 0 to a day (inf or nan would wait for ever or fail in SQL)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"expected a number of seconds from 0 to 86400, got {text[:20]!r}")
    return seconds


def run_consistency(args: argparse.Namespace) -> int:
    """Imports only what the target needs: a DSN pair neither the topology package nor the
    filter-list reader (and its yaml), 25-35 ms of a command that runs in a CI loop."""
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    filters: FilterList | None = None
    if args.filter_list:
        from drills.filter_list import load as load_filter_list

        filters = load_filter_list(args.filter_list)
    if args.dsn:
        if len(args.dsn) != 2:
            raise UserError(f"--dsn must be given exactly twice (dc1, then dc2), got {len(args.dsn)}")
        target: Any = args.dsn
    elif args.state_dir:
        target = _load_topology(args.state_dir)
    else:
        raise UserError("nothing to compare: give --state-dir DIR or --dsn DC1 --dsn DC2")
    result = consistency.check(target, tables, filter_list=filters, chunk_size=args.chunk_size,
                               wait_timeout_s=args.wait_timeout)
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(result))
    return consistency.exit_code(result)


def _load_topology(state_dir: str) -> Any:
    try:
        from drills.topology import Topology
    except ImportError:
        raise UserError("this build has no topology support; use --dsn DC1 --dsn DC2") from None
    return Topology.load(state_dir)


def _key_text(columns: list[str], key: list[Any] | None) -> str:
    if key is None:
        return "-"
    pairs = [f"{c}={v!r}" if isinstance(v, str) else f"{c}={v}" for c, v in zip(columns, key, strict=False)]
    return pairs[0] if len(pairs) == 1 else "(" + ", ".join(pairs) + ")"


def render(result: consistency.ConsistencyResult) -> str:
    """The human summary: verdict first, then one line per table, then the keys."""
    d = result.as_dict()
    pos = d["position"]
    lines = [
        f"data_consistency: {'PASSED' if result.identical else 'FAILED'} "
        f"({d['source']} -> {d['replica']}, {d['rows_compared']:,} rows in {len(d['tables'])} table(s), "
        f"{d['elapsed_s']:.2f} s)",
        f"  position: {d['source']} {pos['source'] or '-'} / {d['replica']} {pos['replica'] or '-'}"
        f" ({'exact' if pos['exact'] else 'not exact'})" + (f"; {pos['note']}" if pos["note"] else ""),
    ]
    width = max((len(t["table"]) for t in d["tables"]), default=10)
    for t in d["tables"]:
        rows = "/".join(f"{n:,}" for n in t["rows"].values()) or "-"
        status = "identical" if t["identical"] else "DIFFERS"
        lines.append(f"  {t['table']:<{width}}  {status:<9}  rows {rows}  chunks {t['chunks']}"
                     + (f"  ({t['note']})" if t.get("note") else ""))
        if t.get("problem"):
            lines.append(f"      {t['problem']}")
        for c in t["mismatched_chunks"]:
            lines.append(f"      chunk {c['index']}: from {_key_text(t['key'], c['first'])}"
                         f" to before {_key_text(t['key'], c['upper'])}")
        if t["differing"]["count"]:
            lines.append(f"      differing ({t['differing']['count']}): "
                         + ", ".join(_key_text(t["key"], k) for k in t["differing"]["keys"]))
        for dc, missing in t["missing"].items():
            if missing["count"]:
                lines.append(f"      missing on {dc} ({missing['count']}): "
                             + ", ".join(_key_text(t["key"], k) for k in missing["keys"]))
        if t.get("transient"):
            lines.append(f"      {t['transient']} key(s) differed only while writes were in flight")
    for s in d["skipped"]:
        lines.append(f"  skipped {s['table']}: {s['reason']}")
    return "\n".join(lines) + "\n"
