"""`drills audit`: the pre-exercise audit of a filter list, offline or live.

Exit codes: 0 no finding reaches --fail-on, 1 some do, 2 bad input (unreadable or
unparsable file, with file and line; unreachable server, with which one).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from drills.audit import live, rule_docs
from drills.audit.baseline import load_baseline, write_baseline
from drills.audit.engine import run_audit
from drills.audit.matcher import databases_named
from drills.audit.output import RENDERERS
from drills.audit.rules import RULES, AuditContext, Severity
from drills.audit.schema import Schema
from drills.audit.sqldump import NoDatabaseError, parse_dumps
from drills.audit.traffic import Traffic, load_traffic, parse_server_ids
from drills.audit.units import MODES, from_options
from drills.errors import EXIT_OK, ConfigError, UserError
from drills.filter_list import FilterList, load


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit",
        help="audit a replication filter list against schema, data and traffic",
        description="Audit a filter list before a DR exercise. Offline from .sql dumps (--schema, --dc2-schema) "
        "or live (--dsn dc1 --dsn dc2, or --state-dir of a running topology). "
        "Exit 0: nothing reaches --fail-on; 1: findings do; 2: bad input or unreachable server.",
    )
    p.add_argument("filter_list", nargs="?", help="filter list file (YAML or plain db.table lines); "
                   "with --state-dir defaults to the topology's declared list")
    src = p.add_argument_group("schema")
    src.add_argument("--schema", action="append", default=[], metavar="FILE", help="dc1's dump (.sql); repeat for table + data files")
    src.add_argument("--dc2-schema", action="append", default=[], metavar="FILE", help="dc2's dump, to compare the sides")
    src.add_argument("--database", help="database of unqualified tables in dumps without USE or a `Database:` header "
                     "(default: the one database all filter list entries name, if they do)")
    src.add_argument("--dsn", action="append", default=[], metavar="DSN", help="mysql://user:pass@host:port; give twice: dc1 then dc2")
    src.add_argument("--state-dir", help="state directory of a running topology (drills env up)")
    obs = p.add_argument_group("observed use")
    obs.add_argument("--traffic", action="append", default=[], metavar="FILE",
                     help="observed writes: mysqlbinlog -v output, a drill ledger/journal (JSON lines) or YAML {writes: {dc: [tables]}}")
    obs.add_argument("--server-id", action="append", default=[], metavar="ID=DC", help="name a binlog server id, e.g. 1=dc1")
    obs.add_argument("--auto-increment", action="append", default=[], metavar="DC=INC/OFF",
                     help="auto_increment_increment/offset of a DC when auditing offline, e.g. dc1=2/1")
    obs.add_argument("--no-binlog", action="store_true", help="live: do not read recent binlog events for observed writes")
    aa = p.add_argument_group("active-active (units write their own users; a central unit alone writes global data)")
    aa.add_argument("--mode", choices=MODES, help="topology mode; active-active enables AUD112/AUD113 and widens AUD109 "
                    "(default: single-writer)")
    aa.add_argument("--central-dc", metavar="DC", help="the central unit, the only writer of global data (default dc1)")
    aa.add_argument("--central-db", action="append", default=[], metavar="NAME", help="a database of global data (repeat)")
    aa.add_argument("--central-table", action="append", default=[], metavar="DB.TABLE",
                    help="a table of global data; `%%` makes it a LIKE pattern, as in filter lists (repeat)")
    aa.add_argument("--unit-key", action="append", default=[], metavar="COLUMN[,COLUMN]",
                    help="the sharding key columns that route a row to its unit (default: user_id, buyer_id, uid, member_id, customer_id)")
    opts = p.add_argument_group("rules and output")
    opts.add_argument("--same-city", action="store_true", help="same-city setup: also report env tables filtered although identical")
    opts.add_argument("--max-wildcard-matches", type=int, default=100, metavar="N", help="warn when a pattern matches more tables (default 100)")
    opts.add_argument("--rule", action="append", default=[], metavar="ID", help="run only these rules (repeat)")
    opts.add_argument("--format", choices=sorted(RENDERERS), default="text")
    opts.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    opts.add_argument("--fail-on", default="error", choices=["critical", "error", "warning", "info", "never"],
                      help="lowest severity that makes the exit code 1 (default: error)")
    opts.add_argument("--baseline", metavar="FILE", help="accepted findings (rule, subject, reason); only new ones count")
    opts.add_argument("--write-baseline", metavar="FILE", help="write the current findings as a baseline (reasons to fill in)")
    opts.add_argument("--reason", help="reason recorded for every finding written by --write-baseline")
    opts.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    opts.add_argument("--docs-url", metavar="URL", help="where the repository's files are published (e.g. its web view at a tag): "
                      "SARIF links each rule to URL/docs/audit-rules/RULE.md; default $DRILLS_DOCS_URL, else the local file")
    p.set_defaults(func=run)


def _auto_increment(pairs: list[str]) -> dict[str, tuple[int, int]]:
    out = {}
    for pair in pairs:
        m = re.fullmatch(r"\s*([\w-]+)\s*=\s*(\d+)\s*/\s*(\d+)\s*", pair)
        if not m:
            raise ConfigError(f"--auto-increment {pair!r}: expected DC=INCREMENT/OFFSET, e.g. dc1=2/1")
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def _database_from(filter_list: FilterList) -> tuple[str | None, str]:
    """(the database for dumps without USE, or None and why the filter list cannot give one).
    Only when every entry names the same database: with two, a table could be either's."""
    names, wild = databases_named(filter_list)
    if wild:
        e = wild[0]
        return None, f"; the filter list cannot tell which database: its entry `{e.name}`" + (f" (line {e.line})" if e.line else "") + \
            " matches any database"
    if len(names) > 1:
        shown = ", ".join(f"`{n}`" for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return None, f"; the filter list names {len(names)} databases ({shown}), so it cannot tell which"
    if not names:
        return None, "; the filter list has no entries to take one from"
    return names[0], ""


def _parse_side(paths: list[str], label: str, database: str | None, default_db: str | None, why_not: str) -> Schema:
    try:
        return parse_dumps(paths, database=database, label=label, default_database=default_db)
    except NoDatabaseError as exc:
        raise NoDatabaseError(exc.message + why_not, hint=exc.hint) from None


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        for r, _ in RULES:
            needs = f" (needs {r.needs})" if r.needs else ""
            print(f"{r.id}  {r.severity.label:<8} {r.name}{needs}\n      {r.rationale}\n      fix: {r.fix}\n"
                  f"      doc: {rule_docs.page_path(r.id)}")
        return EXIT_OK
    if args.max_wildcard_matches < 1:
        raise UserError("--max-wildcard-matches must be at least 1")
    unknown = [r for r in args.rule if r not in {x.id for x, _ in RULES}]
    if unknown:
        raise UserError(f"--rule {unknown[0]}: no such rule; see `drills audit --list-rules`")
    offline = bool(args.schema or args.dc2_schema)
    online = bool(args.dsn or args.state_dir)
    if offline and online:
        raise UserError("give either dump files (--schema/--dc2-schema) or live servers (--dsn/--state-dir), not both")
    if not offline and not online:
        raise UserError("nothing to audit against: give --schema FILE (offline) or --dsn / --state-dir (live)")
    if args.dc2_schema and not args.schema:
        raise UserError("--dc2-schema needs --schema for dc1")
    if len(args.dsn) > 2:
        raise UserError("--dsn is given at most twice: dc1, then dc2")
    if args.dsn and args.state_dir:
        raise UserError("give either --dsn or --state-dir, not both")

    docs_url = rule_docs.docs_base(args.docs_url)
    baseline = load_baseline(args.baseline) if args.baseline else None
    filter_list = load(args.filter_list) if args.filter_list else None
    traffic = Traffic()
    server_ids = parse_server_ids(args.server_id)
    for path in args.traffic:
        traffic.merge(load_traffic(path, server_ids))
    auto_increment = _auto_increment(args.auto_increment) or None
    active_active = from_options(args.mode, args.central_dc, args.central_db, args.central_table, args.unit_key,
                                 extra_units=auto_increment or ())
    inputs: dict[str, Any] = {"filter_list": args.filter_list}
    if active_active is not None:
        inputs["active_active"] = active_active.describe()

    effective: dict[str, FilterList] | None = None
    notes: list[str] = []
    if active_active is not None and not active_active.unit_keys_given:
        notes.append(f"active-active: unit key taken as any of the default columns {', '.join(active_active.unit_keys)}; "
                     "give --unit-key COLUMN to name yours")
    if offline:
        if filter_list is None:
            raise UserError("give the filter list file to audit (first argument)")
        default_db, why_not = (None, "") if args.database else _database_from(filter_list)
        dc1 = _parse_side(args.schema, "dc1", args.database, default_db, why_not)
        dc2 = _parse_side(args.dc2_schema, "dc2", args.database, default_db, why_not) if args.dc2_schema else None
        inputs["schema"] = {"dc1": args.schema, **({"dc2": args.dc2_schema} if args.dc2_schema else {})}
        defaulted = dc1.defaulted_files + (dc2.defaulted_files if dc2 is not None else [])
        if defaulted:
            inputs["database"] = {"name": default_db, "from": "filter list", "files": defaulted}
            notes.append(f"database `{default_db}` taken from the filter list (all its entries name it) for the unqualified "
                         f"names in {', '.join(defaulted)} (no USE statement or `Database:` header); "
                         "give --database NAME to choose another")
    else:
        sides: list[live.LiveSide] = []
        try:
            if args.state_dir:
                sides, declared = live.connect_topology(args.state_dir)
                filter_list = filter_list or declared
                inputs["state_dir"] = args.state_dir
            else:
                for label, text in zip(("dc1", "dc2"), args.dsn, strict=False):
                    sides.append(live.connect_dsn(live.parse_dsn(text), label))
                if filter_list is None:
                    raise UserError("give the filter list file to audit (first argument)")
            inputs["servers"] = {s.label: s.where for s in sides}
            schemas = [live.read_schema(s) for s in sides]
            dc1, dc2 = schemas[0], (schemas[1] if len(schemas) > 1 else None)
            effective = {s.label: live.read_effective_filters(s) for s in sides if live.is_replica(s)}
            if auto_increment is None:
                auto_increment = {s.label: live.read_auto_increment(s) for s in sides}
            if not args.no_binlog:
                ids = {live.server_id(s): s.label for s in sides}
                ids.update({int(k): v for k, v in server_ids.items()})
                for s in sides:
                    traffic.merge(live.read_binlog_traffic(s, ids))
        finally:
            live.close(sides)

    ctx = AuditContext(
        filter_list=filter_list, dc1=dc1, dc2=dc2, traffic=traffic if (traffic.writes or traffic.statements) else None,
        effective=effective, auto_increment=auto_increment, same_city=args.same_city, max_wildcard_matches=args.max_wildcard_matches,
        active_active=active_active,
    )
    fail_on = None if args.fail_on == "never" else Severity.parse(args.fail_on)
    result = run_audit(ctx, baseline=baseline, fail_on=fail_on, inputs=inputs, only=set(args.rule) or None,
                       notes=notes, docs_url=docs_url)
    if args.write_baseline:
        everything = result.findings + [f for f, _ in result.suppressed]
        n = write_baseline(args.write_baseline, everything, args.reason, baseline)
        print(f"drills audit: wrote {n} accepted finding(s) to {args.write_baseline}"
              + ("" if args.reason else "; fill in each `reason:` before using it"), file=sys.stderr)
    report = RENDERERS[args.format](result)
    if args.output:
        try:
            Path(args.output).write_text(report, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{args.output}: cannot write report: {exc.strerror}") from None
    else:
        sys.stdout.write(report)
    return result.exit_code
