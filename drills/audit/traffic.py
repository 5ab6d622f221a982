"""Observed traffic: which data centre wrote which table, and how.

Structure alone cannot tell a dual-write table from a business table, nor a sequence
table from a counter of page views; what the application actually did can. Three
sources, all reduced to the same `Traffic`:

- a binlog as `mysqlbinlog -v` (or `mariadb-binlog -v`) prints it: each event header
  carries the `server id` of the server that first wrote it, so one binlog of a replica
  with log_slave_updates shows both sides' writes; `--server-id 1=dc1` names them;
- a drill's ledger (`ledger.jsonl`: `dc` + `f`, or `table`) or journal (`canary.write`);
- a small YAML file written by hand::

      writes:
        dc1: [app.orders, app.job_log]
        dc2: [app.job_log]
      statements:
        - UPDATE app.id_sequence SET next_val = LAST_INSERT_ID(next_val + step) WHERE name = ?
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from drills.errors import ConfigError
from drills.filter_list import read_yaml, shown

# the reference workload's ledger functions and the tables they write (drills.workload)
LEDGER_TABLES = {"write_order": "app.orders", "alloc_segment": "app.id_sequence", "write_job_log": "app.job_log"}


@dataclass
class Traffic:
    writes: dict[str, set[str]] = field(default_factory=dict)  # table key -> data centres that wrote it
    statements: list[str] = field(default_factory=list)  # observed SQL (for LAST_INSERT_ID / col + n patterns)
    sources: list[str] = field(default_factory=list)

    def add_write(self, table: str, dc: str) -> None:
        self.writes.setdefault(table.lower().replace("`", ""), set()).add(dc)

    def writers(self, table_key: str) -> set[str]:
        return self.writes.get(table_key.lower(), set())

    def merge(self, other: Traffic) -> None:
        for t, dcs in other.writes.items():
            self.writes.setdefault(t, set()).update(dcs)
        self.statements.extend(other.statements)
        self.sources.extend(other.sources)


def parse_server_ids(pairs: list[str] | None) -> dict[str, str]:
    """`["1=dc1", "2=dc2"]` -> {"1": "dc1", "2": "dc2"}."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        sid, sep, dc = pair.partition("=")
        if not sep or not sid.strip().isdigit() or not dc.strip():
            raise ConfigError(f"--server-id {pair!r}: expected SERVER_ID=DC, e.g. 1=dc1")
        out[sid.strip()] = dc.strip()
    return out


def load_traffic(path: str | Path, server_ids: dict[str, str] | None = None) -> Traffic:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8", errors="replace")  # bytes: a lone \r must not shift line numbers
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read traffic file: {exc.strerror}") from None
    head = text.lstrip()[:2000]
    if "server id" in head or head.startswith("/*!") or "# at " in head or "DELIMITER" in head:
        traffic = parse_binlog_text(text, server_ids or {})
    elif head.startswith("{"):
        traffic = _parse_jsonl(p, text)
    else:
        traffic = _parse_yaml(p, text)
    traffic.sources.append(str(p))
    return traffic


_EVENT_HEADER = re.compile(r"^#\d{6}\s+[\d:]+\s+server id (\d+)\s")
_TABLE_MAP = re.compile(r"Table_map: `([^`]+)`\.`([^`]+)`")
_DML = re.compile(r"^(?:###\s+)?(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+([`\w]+\.?[`\w]*)", re.I | re.M)


def parse_binlog_text(text: str, server_ids: dict[str, str]) -> Traffic:
    """Writes per origin server from `mysqlbinlog -v` output: Table_map events (row format)
    and the statements of Query events (statement format), each under the `server id` of
    the event header above it."""
    traffic = Traffic()
    current: str | None = None
    db: str | None = None
    for line in text.splitlines():
        if line.startswith("#") and " server id " in line:
            m = _EVENT_HEADER.match(line)
            if m:
                current = server_ids.get(m.group(1), f"server-{m.group(1)}")
                tm = _TABLE_MAP.search(line)
                if tm:
                    traffic.add_write(f"{tm.group(1)}.{tm.group(2)}", current)
            continue
        if current is None or line.startswith("# ") or line.startswith("/*!"):
            continue
        stripped = line.strip()
        use = re.match(r"use\s+`?(\w+)`?", stripped, re.I)
        if use:
            db = use.group(1)
            continue
        m = _DML.match(stripped)
        if m and not stripped.startswith("###"):
            name = m.group(1).replace("`", "")
            if "." not in name and db:
                name = f"{db}.{name}"
            if "." in name:
                traffic.add_write(name, current)
            if "last_insert_id" in stripped.lower() or re.search(r"=\s*[`\w]+\s*\+", stripped):
                traffic.statements.append(stripped)
    return traffic


def _parse_jsonl(p: Path, text: str) -> Traffic:
    traffic = Traffic()
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}:{n}: not a JSON line: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, nesting deeper than Python recurses
            raise ConfigError(f"{p}:{n}: not a JSON line the audit can read: {shown(str(exc), 120)}") from None
        if not isinstance(rec, dict):
            raise ConfigError(f"{p}:{n}: expected a JSON object per line")
        if "kind" in rec and isinstance(rec.get("payload"), dict):  # journal line
            payload = rec["payload"]
            if rec["kind"] == "canary.write" and payload.get("table") and payload.get("source"):
                traffic.add_write(str(payload["table"]), str(payload["source"]))
            continue
        if rec.get("type") not in ("ok", "info") or not rec.get("dc"):
            continue  # invoke lines and failed writes changed nothing we know of
        table = rec.get("table") or LEDGER_TABLES.get(str(rec.get("f")))
        if table:
            traffic.add_write(str(table), str(rec["dc"]))
    return traffic


def _parse_yaml(p: Path, text: str) -> Traffic:
    root = read_yaml(text, str(p))
    if root is None or root.kind != "map" or not ({"writes", "statements"} & set(root.keys or {})):
        raise ConfigError(f"{p}:{root.line if root else 1}: expected a traffic file: a mapping with `writes: {{dc: [db.table, ...]}}` "
                          "and/or `statements: [...]`, a ledger (JSON lines) or mysqlbinlog -v output")
    fields = {k.value: (k, v) for k, v in root.value}
    traffic = Traffic()
    if "writes" in fields:
        key, writes = fields["writes"]
        if writes.kind != "map" and writes.text() != "":
            raise ConfigError(f"{p}:{key.line}: `writes` must map a data centre to a list of tables")
        for dc, tables in writes.value if writes.kind == "map" else []:
            if tables.kind != "seq":
                raise ConfigError(f"{p}:{dc.line}: `writes.{dc.value[:64]}` must be a list of db.table names")
            for t in tables.value:
                if t.text() is None:
                    raise ConfigError(f"{p}:{t.line}: expected a db.table name, got {t.describe()}")
                traffic.add_write(t.value, dc.value)
    if "statements" in fields:
        key, statements = fields["statements"]
        if statements.kind != "seq" and statements.text() != "":
            raise ConfigError(f"{p}:{key.line}: `statements` must be a list of SQL strings")
        for sql in statements.value if statements.kind == "seq" else []:
            if sql.text() is None:
                raise ConfigError(f"{p}:{sql.line}: expected an SQL statement, got {sql.describe()}")
            traffic.statements.append(sql.value)
    return traffic
