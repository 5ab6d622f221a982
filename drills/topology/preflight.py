"""`drills env check`: the preflight a DBA runs before a DR exercise, against their environment file.

A drill that discovers halfway through that its admin account cannot stop replication, that
`app:dc2` leads to dc1 or that the route names the standby has wasted a change window and
proved nothing. This checks, before anything runs, what a drill will rely on: every server
answers with the file's accounts, the accounts hold the privileges drills uses, the link
runs in the declared direction through the declared proxy with the declared filter list,
every mapped proxy exists, is enabled, clean and points where it should, and the routing key
holds a route naming the declared source.

It touches nothing: only SELECT and SHOW statements, GETs on Toxiproxy's API and a read of
the routing key — the environment is someone else's, and a preflight that changed it would
be the first incident of the exercise. Every problem is one entry saying what is wrong,
where (which data centre, proxy or account) and the exact fix (the GRANT statement, the
API call, the line of the file); what passed is listed too, so the report shows what was
verified and not only what failed. A component that does not answer is a problem with its
fix, never a traceback: this is what you run when you do not know yet what is broken.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pymysql
import pymysql.cursors
from pymysql.converters import escape_string

from drills import masking
from drills.config_center import default_document, successor_document
from drills.errors import ConfigError, UserError
from drills.filter_list import FilterList, like_match
from drills.mysql import admin
from drills.mysql.dialect import Dialect, dialect_for_version
from drills.topology.environment import PATHS, EnvironmentFile, Secret, load_environment
from drills.topology.state import LINK_PROXY, Topology

CANARY_SCHEMA = "drills_canary"  # drills.observe.collector.CANARY_SCHEMA (not imported: keep the CLI light)
APP_DATABASE = "app"  # the application's database the workload writes
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
ALL = "ALL PRIVILEGES"

# One spelling per privilege: what information_schema reports (MariaDB shows REPLICA MONITOR
# as SLAVE MONITOR and REPLICATION CLIENT as BINLOG MONITOR)
_ALIASES = {
    "REPLICA MONITOR": "SLAVE MONITOR",
    "REPLICATION CLIENT": "BINLOG MONITOR",
    "REPLICATION REPLICA": "REPLICATION SLAVE",
    "ALL": ALL,
}
# and the name a GRANT statement in a fix uses (the current spelling)
_GRANT_NAMES = {"SLAVE MONITOR": "REPLICA MONITOR"}


# ---- the report ------------------------------------------------------------------------------------


@dataclass
class Report:
    """What a preflight found: problems (each with its fix), what passed, and what could not be
    checked because something it depends on already failed (named, so a skipped check is never
    mistaken for a passed one)."""

    environment: str
    file: str
    problems: list[dict[str, str]] = field(default_factory=list)
    ok: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def problem(self, check: str, where: str, what: str, fix: str) -> None:
        self.problems.append({"check": check, "where": where, "what": what, "fix": fix})

    def passed(self, check: str, where: str, what: str) -> None:
        self.ok.append({"check": check, "where": where, "what": what})

    def skip(self, check: str, where: str, why: str) -> None:
        self.skipped.append({"check": check, "where": where, "what": why})

    def as_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "file": self.file, "ready": not self.problems,
                "problems": self.problems, "ok": self.ok, "skipped": self.skipped}


def print_report(report: dict[str, Any], as_json: bool = False, out: TextIO | None = None) -> None:
    """The report for a person (one line per finding, problems last, then the count) or, with
    `as_json`, for a pipeline. Everything is masked first: a server's error message or a path
    may carry a secret the file pointed at."""
    out = out or sys.stdout
    doc = masking.masker().value(report)
    if as_json:
        print(json.dumps(doc, indent=2, sort_keys=True), file=out)
        return
    for line in report_lines(doc):
        print(masking.mask(line), file=out)


def report_lines(report: dict[str, Any]) -> list[str]:
    """The text report's lines (pure, for tests): ok, then not checked, then problems, then
    the count."""
    lines = [f"ok {e['check']} {e['what']}" for e in report.get("ok", [])]
    lines += [f"skip {e['check']} {e['what']}" for e in report.get("skipped", [])]
    lines += [f"PROBLEM {e['check']} {e['what']} — fix: {e['fix']}" for e in report.get("problems", [])]
    n = len(report.get("problems", []))
    verdict = "ready to drill" if n == 0 else "fix these before the exercise"
    lines.append(f"{n} problem{'' if n == 1 else 's'}, {len(report.get('ok', []))} ok, "
                 f"{len(report.get('skipped', []))} not checked: {verdict}")
    return lines


# ---- privileges (pure) --------------------------------------------------------------------------------


def canonical(privilege: str) -> str:
    p = " ".join(privilege.strip().upper().split())
    return _ALIASES.get(p, p)


def grant_name(privilege: str) -> str:
    return _GRANT_NAMES.get(privilege, privilege)


@dataclass
class Held:
    """The privileges one account holds on one server: global, per schema pattern (a grant on
    `drills%`.* covers drills_canary), per table."""

    global_: set[str] = field(default_factory=set)
    schemas: list[tuple[str, set[str]]] = field(default_factory=list)
    tables: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add_global(self, privileges: set[str] | list[str]) -> None:
        self.global_ |= {canonical(p) for p in privileges}

    def add_schema(self, pattern: str, privileges: set[str] | list[str]) -> None:
        self.schemas.append((pattern, {canonical(p) for p in privileges}))

    def add_table(self, schema: str, table: str, privileges: set[str] | list[str]) -> None:
        self.tables.setdefault((schema, table), set()).update(canonical(p) for p in privileges)

    def merge(self, other: Held) -> None:
        self.global_ |= other.global_
        self.schemas += other.schemas
        for key, privs in other.tables.items():
            self.tables.setdefault(key, set()).update(privs)

    def has(self, privilege: str, schema: str | None = None, table: str | None = None) -> bool:
        p = canonical(privilege)
        if p in self.global_ or ALL in self.global_:
            return True
        if schema is None:
            return False
        if any((p in privs or ALL in privs) and like_match(pattern, schema) for pattern, privs in self.schemas):
            return True
        if table is None:
            return False
        privs = self.tables.get((schema, table), set())
        return p in privs or ALL in privs


@dataclass(frozen=True)
class Need:
    """Privileges drills needs, all of them (`privileges`), or any one of `instead` (SUPER)
    in their place, at one level: global, a schema, or a table."""

    why: str
    privileges: tuple[str, ...]
    instead: tuple[str, ...] = ()
    schema: str | None = None
    table: str | None = None
    note: str = ""

    @property
    def on(self) -> str:
        if self.schema is None:
            return "*.*"
        return f"{quote_ident(self.schema)}." + ("*" if self.table is None else quote_ident(self.table))

    def missing(self, held: Held) -> list[str]:
        """The privileges still to grant (none when one of `instead` is held)."""
        if any(held.has(p, self.schema, self.table) for p in self.instead):
            return []
        return [p for p in self.privileges if not held.has(p, self.schema, self.table)]


def parse_version(version: str) -> tuple[int, int, int]:
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not m:
        return (0, 0, 0)
    return int(m[1]), int(m[2]), int(m[3] or 0)


def admin_needs(flavor: str, version: str, writes: str, filters: FilterList | None = None) -> list[Need]:
    """What the admin account does, as privileges of this server's flavour and version.

    MariaDB >= 10.5.9 splits SUPER into named privileges; from 10.11 SUPER no longer lets an
    account set read_only (the server answers "you need READ_ONLY ADMIN" — checked on
    10.11.19), so READ_ONLY ADMIN is the only way there. Older MariaDB and MySQL 8 have their
    own names (MySQL untested here: no MySQL server on this machine)."""
    v = parse_version(version)
    needs: list[Need] = []
    if flavor == "mysql":
        needs += [
            Need("to read replica status and GTIDs", ("REPLICATION CLIENT",), ("SUPER",)),
            Need("to read every table (verification, consistency checks)", ("SELECT",)),
            Need("to fence and promote (SET GLOBAL super_read_only/read_only)", ("SYSTEM_VARIABLES_ADMIN",), ("SUPER",)),
            Need("to stop, start and re-point replication", ("REPLICATION_SLAVE_ADMIN",), ("SUPER",)),
        ]
        unlogged = Need("to write canaries without binlogging (SET sql_log_bin = 0)", ("SYSTEM_VARIABLES_ADMIN",),
                        ("SESSION_VARIABLES_ADMIN", "SUPER"))
    elif v >= (10, 5, 9):
        ro_note = "SUPER does not cover it from MariaDB 10.11" if v >= (10, 11, 0) else ""
        needs += [
            Need("to read replica status (SHOW SLAVE STATUS)", ("SLAVE MONITOR",), ("SUPER",)),
            Need("to read binary log status and GTIDs", ("BINLOG MONITOR",), ("SUPER",)),
            Need("to read every table (verification, consistency checks)", ("SELECT",)),
            Need("to fence and promote (SET GLOBAL read_only)", ("READ_ONLY ADMIN",),
                 () if v >= (10, 11, 0) else ("SUPER",), note=ro_note),
            Need("to stop, start and re-point replication", ("REPLICATION SLAVE ADMIN",), ("SUPER",)),
        ]
        unlogged = Need("to write canaries without binlogging (SET sql_log_bin = 0)", ("BINLOG ADMIN",), ("SUPER",))
    else:
        needs += [
            Need("to read replica status and GTIDs", ("REPLICATION CLIENT",),
                 ("SUPER", "REPLICATION SLAVE ADMIN", "BINLOG MONITOR")),
            Need("to read every table (verification, consistency checks)", ("SELECT",)),
            Need("to fence and promote (SET GLOBAL read_only)", ("SUPER",), ("READ_ONLY ADMIN",)),
            Need("to stop, start and re-point replication", ("SUPER",), ("REPLICATION SLAVE ADMIN",)),
        ]
        unlogged = Need("to write canaries without binlogging (SET sql_log_bin = 0)", ("SUPER",), ("BINLOG ADMIN",))
    if writes != "none":
        needs.append(Need(f"to keep its canary table in the harness schema {CANARY_SCHEMA}",
                          ("CREATE", "INSERT", "DELETE", "DROP"), schema=CANARY_SCHEMA))
        needs.append(unlogged)
    if writes == "all" and filters is not None:
        for name in filters.ignore_tables:
            db, _, table = name.partition(".")
            if db and table:
                needs.append(Need(f"to write and remove marker rows in the filtered table {name}",
                                  ("INSERT", "DELETE"), schema=db, table=table))
        for pattern in filters.wild_ignore_tables:
            db = pattern.split(".", 1)[0]
            if db and not set(db) & {"%", "_", "\\"}:
                needs.append(Need(f"to write and remove marker rows in tables matching {pattern}",
                                  ("INSERT", "DELETE"), schema=db))
    return needs


def app_needs(database: str = APP_DATABASE, writes: str = "all") -> list[Need]:
    needs = [Need(f"for the workload's reads and writes in `{database}`", ("SELECT", "INSERT", "UPDATE", "DELETE"),
                  schema=database)]
    if writes == "canary":  # `expect: writes_succeed` probes as the application, into the harness's own table
        needs.append(Need("for the write probe (`expect: writes_succeed`) in the harness's own schema",
                          ("INSERT",), schema="drills_canary"))
    return needs


def repl_needs() -> list[Need]:
    return [Need("for the link, and for the reversed link after failover", ("REPLICATION SLAVE",))]


def split_grant_privileges(text: str) -> list[str]:
    """`SELECT, INSERT (a, b), SLAVE MONITOR` -> the privileges that cover whole objects
    (column grants are left out: they never cover what drills does)."""
    items, depth, cur = [], 0, ""
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += c
    items.append(cur)
    return [canonical(i) for i in items if i.strip() and "(" not in i]


_IDENT = r"(?:\*|`(?:[^`]|``)*`|[A-Za-z0-9_$\\%]+)"
_GRANT_LINE = re.compile(r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?:\s+BODY)?)\s+)?"
                         rf"(?P<db>{_IDENT})(?:\.(?P<table>{_IDENT}))?\s+TO\s", re.IGNORECASE | re.DOTALL)


def _unquote(ident: str) -> str:
    return ident[1:-1].replace("``", "`") if ident.startswith("`") else ident


def parse_grants(lines: list[str]) -> Held:
    """SHOW GRANTS output -> what it grants (a role's grants; MySQL's dynamic privileges, which
    information_schema does not list). Role membership lines (`GRANT role TO user`) and
    routine grants are skipped."""
    held = Held()
    for line in lines:
        m = _GRANT_LINE.match(line.strip())
        if not m:
            continue
        if re.match(r"^(FUNCTION|PROCEDURE|PACKAGE)\b", line.strip()[6:].split(" ON ", 1)[-1].strip(), re.IGNORECASE):
            continue
        privs = split_grant_privileges(m["privs"])
        db, table = _unquote(m["db"]), m["table"]
        if db == "*" and (table is None or table == "*"):
            held.add_global(privs)
        elif table is None or table == "*":
            held.add_schema(db, privs)
        else:
            held.add_table(db, _unquote(table), privs)
    return held


def split_account(current_user: str) -> tuple[str, str]:
    """CURRENT_USER() (`drills@127.0.0.1`) -> (user, host): the host never holds an `@`."""
    user, _, host = current_user.rpartition("@")
    return (user, host) if user else (current_user, "%")


def grantee(user: str, host: str) -> str:
    """An account as a GRANT statement and information_schema's GRANTEE write it."""
    return f"'{user.replace(chr(39), chr(39) * 2)}'@'{host.replace(chr(39), chr(39) * 2)}'"


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def grant_statement(privileges: list[str] | tuple[str, ...], on: str, account: str) -> str:
    return f"GRANT {', '.join(grant_name(p) for p in privileges)} ON {on} TO {account};"


# ---- filters, addresses, commands (pure) --------------------------------------------------------------------


def sql_literal(value: str) -> str:
    return "'" + escape_string(value) + "'"


def render_statement(sql: str, args: tuple[Any, ...] = ()) -> str:
    """A parameterised statement as a person types it (for a fix line)."""
    if not args:
        return sql
    return sql % tuple(sql_literal(a) if isinstance(a, str) else str(a) for a in args)


def filter_differences(declared: dict[str, list[str]], effective: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(kind, entry, "missing" | "extra") for every entry declared but not applied (missing)
    or applied but not declared (extra); kind is ignore_tables or wild_ignore_tables."""
    out: list[tuple[str, str, str]] = []
    for kind in ("ignore_tables", "wild_ignore_tables"):
        want, have = set(declared.get(kind, [])), set(effective.get(kind, []))
        out += [(kind, e, "missing") for e in sorted(want - have)]
        out += [(kind, e, "extra") for e in sorted(have - want)]
    return out


def filter_apply_fix(dialect: Dialect, replica: str, declared: dict[str, list[str]], kind: str,
                     replicating: bool = True) -> str:
    """The statements that make `replica` apply the declared list, in the server's own syntax
    (the replica threads must be stopped to change filters; a server that is no replica yet
    has none to stop)."""
    statements = dialect.set_filters(declared.get("ignore_tables", []), declared.get("wild_ignore_tables", []))
    if dialect.flavor == "mariadb":  # one variable per kind: set only the one that differs
        variable = "replicate_ignore_table" if kind == "ignore_tables" else "replicate_wild_ignore_table"
        statements = [s for s in statements if variable + " " in s[0]]
    body = " ".join(render_statement(sql, args) + ";" for sql, args in statements)
    if not replicating:
        return f"on {replica}: {body}"
    return f"on {replica}: {dialect.stop_replica()}; {body} {dialect.start_replica()};"


def _host(host: str) -> str:
    h = host.strip().strip("[]").lower()
    return "127.0.0.1" if h in ("localhost", "::1", "127.0.0.1") else h


def split_address(address: str) -> tuple[str, int] | None:
    host, _, port = address.strip().rpartition(":")
    if not host or not port.isdigit():
        return None
    return _host(host), int(port)


def _resolve(host: str) -> set[str]:
    try:
        return {_host(str(info[4][0])) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return set()


def same_address(a: str, b: str, *, resolve: bool = True) -> bool:
    """Whether two `host:port` name the same endpoint: 127.0.0.1, localhost and ::1 are one
    host, and (with `resolve`) a name and the address it resolves to are too — a proxy's
    upstream is often written as an IP where the file has the server's name."""
    x, y = split_address(a), split_address(b)
    if x is None or y is None:
        return a.strip() == b.strip()
    if x[1] != y[1]:
        return False
    if x[0] == y[0]:
        return True
    return resolve and bool(_resolve(x[0]) & _resolve(y[0]))


def expected_upstreams(env: EnvironmentFile) -> dict[str, str]:
    """Where each drills path must lead: the application's paths to their server, a link to
    its source's server, etcd's proxy to etcd."""
    dc1, dc2 = str(env.servers.dc1.observer), str(env.servers.dc2.observer)
    return {"app:dc1": dc1, "app:dc2": dc2, "link:dc1->dc2": dc1, "link:dc2->dc1": dc2, "etcd": str(env.etcd.endpoint)}


def route_findings(document: dict[str, Any], source: str) -> list[str]:
    """What is wrong with a routing document for a drill whose link runs from `source`
    (empty when nothing is)."""
    from drills.workload.routing import ClientRoute

    try:
        route = ClientRoute.from_document(document)
    except ValueError as exc:
        return [f"the application cannot follow it: {exc}"]
    if route.active not in ("dc1", "dc2"):
        return [f"it names {route.active!r} as active, which is neither dc1 nor dc2"]
    if route.active != source:
        return [f"it names {route.active} as active but the file's link runs from {source}: the route and the link disagree"]
    return []


# ---- running it ---------------------------------------------------------------------------------------


def preflight(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Check the environment described in `path` without changing anything in it; a report
    (`problems`, `ok`, `skipped`). An invalid file raises ConfigError (the CLI's exit 2):
    there is nothing to check against until the file itself is right."""
    env = load_environment(path)
    return _Preflight(env, dict(os.environ) if environ is None else dict(environ)).run().as_dict()


class _Preflight:
    def __init__(self, env: EnvironmentFile, environ: dict[str, str]):
        self.env = env
        self.environ = environ
        self.report = Report(env.name, str(env.source))
        self.file = str(env.source)
        self.unavailable: set[str] = set()  # roles (admin, app, repl, etcd) whose secret could not be read
        self.conns: dict[str, pymysql.connections.Connection] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.status_readable: dict[str, bool] = {}
        self.configured: dict[str, bool] = {}  # dc -> has a replica configuration (SHOW SLAVE STATUS returns a row)
        self.live: dict[str, Any] | None = None  # the Toxiproxy API's proxies, by the user's names
        self.topo: Topology

    # ---- secrets and the handle ----------------------------------------------------------------------
    def _secrets(self) -> EnvironmentFile:
        """Read every secret the file names; a missing one is a problem, and the handle is built
        with a stand-in so the checks that do not need it still run."""
        env = self.env
        accounts = env.accounts
        slots: list[tuple[str, str, Secret, str]] = [
            ("admin", "accounts.admin.password", accounts.admin.password, f"the admin account {accounts.admin.user}"),
            ("app", "accounts.app.password", accounts.app.password, f"the application account {accounts.app.user}"),
        ]
        if accounts.repl is not None:
            slots.append(("repl", "accounts.repl.password", accounts.repl.password,
                          f"the replication account {accounts.repl.user}"))
        if env.etcd.password is not None:
            slots.append(("etcd", "etcd.password", env.etcd.password, f"etcd user {env.etcd.user}"))
        patched = env.model_copy(deep=True)
        stand_in = secrets.token_hex(16)  # hex only: masked as a whole, never as a fragment of other text
        self.environ["_DRILLS_PREFLIGHT_UNREAD"] = stand_in
        for role, where, secret, whose in slots:
            try:
                secret.read(self.environ, env.base, where)
            except ConfigError as exc:
                self.unavailable.add(role)
                if secret.env is not None:
                    fix = (f"export {secret.env}=<the password of {whose}> in the shell that runs drills "
                           "(the file names the variable; the value is never written in it)")
                else:
                    fix = (f"put the password of {whose} on the first line of {env.path(secret.file or Path())} "
                           "(readable by you only: chmod 600)")
                self.report.problem("secrets", where, exc.message, fix)
                continue
            self.report.passed("secrets", where, f"{where} readable ({'$' + secret.env if secret.env else 'from its file'})")
        if accounts.repl is None and "admin" in self.unavailable:
            self.unavailable.add("repl")
        holders: dict[str, Any] = {"admin": patched.accounts.admin, "app": patched.accounts.app,
                                   "repl": patched.accounts.repl, "etcd": patched.etcd}
        for role in self.unavailable:
            if holders.get(role) is not None:
                holders[role].password = Secret(env="_DRILLS_PREFLIGHT_UNREAD")
        return patched

    def run(self) -> Report:
        from drills.topology.external import ExternalProvider

        patched = self._secrets()
        try:
            self.topo = ExternalProvider(patched, self.environ).topology()
        except UserError as exc:  # a last guard: the secrets were all read or stood in for above
            self.report.problem("environment", self.file, f"the environment cannot be attached: {exc.message}",
                                f"correct {self.file}")
            return self.report
        try:
            self.check_toxiproxy()
            self.check_etcd_and_route()
            for dc in ("dc1", "dc2"):
                self.check_server(dc)
            for dc in ("dc1", "dc2"):
                self.check_admin_grants(dc)
            for dc in ("dc1", "dc2"):
                self.check_app(dc)
            for dc in ("dc1", "dc2"):
                self.check_repl(dc)
            if self.env.mode == "active-active":
                self.check_active_active()
            else:
                self.check_replication()
                self.check_filters()
            self.check_proxies()
        finally:
            for conn in self.conns.values():
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection is best-effort
                    pass
        return self.report

    # ---- Toxiproxy and etcd ------------------------------------------------------------------------
    @property
    def api(self) -> str:
        return self.env.toxiproxy.api.rstrip("/")

    def check_toxiproxy(self) -> None:
        from drills.toxiproxy import Toxiproxy

        host, port = self.env.toxiproxy.address()
        client = Toxiproxy(host, port, timeout=CONNECT_TIMEOUT)  # the raw API, under the user's own names
        try:
            self.live = client.proxies()
            version = _version_text(client.version())
        except UserError as exc:
            self.report.problem("toxiproxy", self.api, f"the Toxiproxy API at {self.api} does not answer: {exc.message}",
                                f"start toxiproxy-server there, or correct toxiproxy.api in {self.file}")
            return
        self.report.passed("toxiproxy", self.api, f"Toxiproxy API {self.api} answers (version {version or '?'}, "
                                                  f"{len(self.live)} proxies)")

    def _etcdctl(self) -> str:
        e = self.env.etcd
        scheme = "https" if e.tls is not None else "http"
        parts = [f"etcdctl --endpoints={scheme}://{e.endpoint}"]
        if e.tls is not None:
            parts.append(f"--cacert={self.env.path(e.tls.ca_file)}")
            if e.tls.cert_file is not None:
                parts.append(f"--cert={self.env.path(e.tls.cert_file)}")
            if e.tls.key_file is not None:
                parts.append(f"--key={self.env.path(e.tls.key_file)}")
        if e.user is not None:
            parts.append(f"--user={e.user}")
        return " ".join(parts)

    def check_etcd_and_route(self) -> None:
        env, key = self.env, self.env.etcd.routing_key
        where = f"etcd {env.etcd.endpoint}"
        if "etcd" in self.unavailable:
            self.report.skip("etcd", where, f"etcd at {env.etcd.endpoint} and the routing key not checked: "
                                            "its password could not be read (see secrets)")
            return
        try:
            cc = self.topo.config_center(timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the client authenticates and loads TLS files here; any failure is a finding
            why = exc.message if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            self.report.problem("etcd", where, f"cannot open a client for etcd at {env.etcd.endpoint}: {masking.mask(why)}",
                                f"check etcd.endpoint, etcd.tls and etcd.user/password in {self.file} "
                                f"(try: {self._etcdctl()} endpoint health)")
            return
        try:
            try:
                cc.revision()
            except UserError as exc:
                self.report.problem("etcd", where, f"etcd does not answer at {env.etcd.endpoint} ({exc.message})",
                                    f"check that etcd runs there and that etcd.endpoint, etcd.tls and etcd.user in "
                                    f"{self.file} are right (try: {self._etcdctl()} endpoint health)")
                return
            self.report.passed("etcd", where, f"etcd answers at {env.etcd.endpoint}")
            source = env.active_active.central if env.active_active is not None else env.replication.source
            publish = f"{self._etcdctl()} put {key} 'DOCUMENT'"
            try:
                route = cc.read()
            except UserError as exc:
                doc = json.dumps(default_document(source, times=env.retry.get("times", 3),
                                                  delay_ms=env.retry.get("delay_ms", 5000)), sort_keys=True)
                self.report.problem("routing", key, f"routing key {key}: {exc.message}",
                                    "write a routing document there: " + publish.replace("'DOCUMENT'", f"'{doc}'"))
                return
            if route is None:
                doc = json.dumps(default_document(source, times=env.retry.get("times", 3),
                                                  delay_ms=env.retry.get("delay_ms", 5000)), sort_keys=True)
                self.report.problem("routing", key, f"routing key {key} is empty: the application has no route to follow",
                                    f"publish the route (or correct etcd.routing_key in {self.file}): "
                                    + publish.replace("'DOCUMENT'", f"'{doc}'"))
                return
            findings = route_findings(route.document, source)
            if findings:
                doc = json.dumps(successor_document(route.document, source), sort_keys=True)
                active = route.document.get("active")
                if active in ("dc1", "dc2") and active != source:
                    fix = (f"if {active} is the writer, set `replication: {{source: {active}, replica: "
                           f"{'dc2' if active == 'dc1' else 'dc1'}}}` in {self.file} (and run the link from {active}); "
                           f"if {source} is, publish the route naming it, epoch + 1 (a plain put: make sure no controller "
                           f"is switching meanwhile): "
                           + publish.replace("'DOCUMENT'", f"'{doc}'"))
                else:
                    fix = "publish a valid route: " + publish.replace("'DOCUMENT'", f"'{doc}'")
                for finding in findings:
                    self.report.problem("routing", key, f"routing key {key} (revision {route.revision}): {finding}", fix)
                return
            self.report.passed("routing", key, f"routing key {key} (revision {route.revision}) names {source} active, "
                                               f"epoch {route.document.get('epoch')}: the declared source")
        finally:
            cc.close()

    # ---- servers -----------------------------------------------------------------------------------
    def _account(self, role: str) -> str:
        if role == "repl":
            return (self.env.accounts.repl or self.env.accounts.admin).user
        return getattr(self.env.accounts, role).user

    def _variable(self, role: str) -> str:
        acct = (self.env.accounts.repl or self.env.accounts.admin) if role == "repl" else getattr(self.env.accounts, role)
        secret = acct.password
        return f"${secret.env}" if secret.env else f"the file {self.env.path(secret.file or Path())}"

    def _connect(self, dc: str, role: str, via: str) -> tuple[pymysql.connections.Connection | None, int | None, str]:
        """A connection, or (None, MySQL error code, message) — never raised: an unreachable
        server is a finding."""
        assert self.topo.credentials is not None
        if via == "observer":
            host, port = self.topo.servers[dc].host, self.topo.servers[dc].port
        else:
            host, port = self.topo.service_address(dc)
        user, password = self.topo.credentials.for_role(role)  # type: ignore[arg-type]
        try:
            conn = pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=CONNECT_TIMEOUT,
                                   read_timeout=READ_TIMEOUT, write_timeout=READ_TIMEOUT, autocommit=True,
                                   charset="utf8mb4")
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
            return None, code, masking.mask(message)
        except (OSError, ValueError) as exc:
            return None, None, masking.mask(f"{type(exc).__name__}: {exc}")
        return conn, None, ""

    def _login_fix(self, dc: str, role: str, code: int | None, address: str, key: str) -> str:
        user = self._account(role)
        if code in (1045, 1698):
            return (f"check that {self._variable(role)} holds the password of {user} on {dc}, and that the account exists "
                    f"for this machine's address (on {dc}: SELECT user, host FROM mysql.user WHERE user = "
                    f"{sql_literal(user)};)")
        if code == 1130:
            return f"on {dc}: CREATE USER (or GRANT to) {user} for this machine's address, or run drills from an allowed host"
        return (f"check that {dc} runs and accepts connections from this machine at {address}, "
                f"or correct {key} in {self.file}")

    def check_server(self, dc: str) -> None:
        s = self.topo.servers[dc]
        address = f"{s.host}:{s.port}"
        where = f"{dc} {address}"
        if "admin" in self.unavailable:
            self.report.skip("server", where, f"{dc} not checked: the admin password could not be read (see secrets)")
            return
        conn, code, message = self._connect(dc, "admin", "observer")
        if conn is None:
            why = (f"refused the login of the admin account {self._account('admin')}" if code in (1045, 1130, 1698)
                   else f"is unreachable (admin account {self._account('admin')})")
            self.report.problem("server", where, f"{dc} at {address} (observer path) {why}: "
                                f"MySQL error {code if code is not None else '?'} {message}",
                                self._login_fix(dc, "admin", code, address, f"servers.{dc}.observer"))
            return
        self.conns[dc] = conn
        try:
            row = _row(conn, "SELECT VERSION() AS version, CURRENT_USER() AS account, @@GLOBAL.server_id AS server_id, "
                             "@@GLOBAL.read_only AS ro")
        except pymysql.err.MySQLError as exc:
            del self.conns[dc]
            self.report.problem("server", where, f"{dc} at {address} accepted the login but does not answer a SELECT: "
                                f"MySQL error {exc.args[0] if exc.args else '?'}", f"check {dc}'s health and error log")
            return
        info = {"version": str(row["version"]), "account": str(row["account"]), "server_id": int(row["server_id"]),
                "read_only": bool(int(row["ro"])), "flavor": dialect_for_version(str(row["version"])).flavor}
        self.info[dc] = info
        self.report.passed("server", where, f"{dc} answers at {address} as {info['account']} "
                                            f"({info['version']}, server_id {info['server_id']}, "
                                            f"read_only={'ON' if info['read_only'] else 'OFF'})")
        declared = getattr(self.env.servers, dc).flavor
        if info["flavor"] != declared:
            self.report.problem("server", where, f"{dc} runs {info['flavor']} ({info['version']}) but the file declares "
                                f"flavor {declared}", f"set servers.{dc}.flavor: {info['flavor']} in {self.file}")
        if dc == self.env.replication.source and info["read_only"]:
            self.report.problem("server", where, f"{dc} is the declared source but read_only is ON: the application's "
                                f"writes will fail before any fault", f"on {dc}: SET GLOBAL read_only = 0; (or correct "
                                f"replication.source in {self.file} if {dc} is not the writer)")

    def _held(self, conn: pymysql.connections.Connection, account: str, flavor: str) -> Held:
        """What `account` (CURRENT_USER) holds, read from information_schema, plus its enabled
        roles' grants (information_schema lists only the account's own)."""
        held = Held()
        user, host = split_account(account)
        if flavor == "mysql":
            held.merge(parse_grants([r[0] for r in _tuples(conn, "SHOW GRANTS")]))
            return held
        who = (grantee(user, host),)
        held.add_global([r[0] for r in _tuples(conn, "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES "
                                                     "WHERE GRANTEE = %s", who)])
        for schema, priv in _tuples(conn, "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
                                          "WHERE GRANTEE = %s", who):
            held.add_schema(str(schema), [str(priv)])
        for schema, table, priv in _tuples(conn, "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE "
                                                 "FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %s", who):
            held.add_table(str(schema), str(table), [str(priv)])
        for (role,) in _tuples(conn, "SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES"):
            try:
                held.merge(parse_grants([r[0] for r in _tuples(conn, f"SHOW GRANTS FOR {quote_ident(str(role))}")]))
            except pymysql.err.MySQLError:
                continue
        return held

    def _report_needs(self, check: str, dc: str, conn: pymysql.connections.Connection, account: str, flavor: str,
                      needs: list[Need], role_label: str) -> bool:
        user, host = split_account(account)
        who = grantee(user, host)
        where = f"{who} on {dc}"
        try:
            held = self._held(conn, account, flavor)
        except pymysql.err.MySQLError as exc:
            self.report.skip(check, where, f"privileges of {who} on {dc} could not be read: MySQL error {exc.args[0]}")
            return False
        clean = True
        for need in needs:
            missing = need.missing(held)
            if not missing:
                continue
            clean = False
            instead = f" (or {' or '.join(need.instead)})" if need.instead else ""
            note = f"; {need.note}" if need.note else ""
            level = "" if need.schema is None else f" on {need.on}"
            self.report.problem(check, where, f"{role_label} {who} on {dc} lacks {', '.join(grant_name(p) for p in missing)}"
                                f"{level}{instead}: drills needs it {need.why}{note}",
                                f"on {dc}: {grant_statement(missing, need.on, who)}")
        if clean:
            what = "; ".join(f"{'/'.join(grant_name(p) for p in n.privileges)}" + ("" if n.schema is None else f" on {n.on}")
                             for n in needs)
            self.report.passed(check, where, f"{role_label} {who} on {dc} holds what drills needs ({what})")
        return clean

    def check_admin_grants(self, dc: str) -> None:
        conn = self.conns.get(dc)
        if conn is None:
            if "admin" not in self.unavailable:
                self.report.skip("grants", dc, f"the admin account's privileges on {dc} not checked: {dc} did not answer "
                                               "(see server)")
            return
        info = self.info[dc]
        filters = self._declared(quiet=True)
        needs = admin_needs(info["flavor"], info["version"], self.env.writes, filters)
        self._report_needs("grants", dc, conn, info["account"], info["flavor"], needs, "admin account")
        # a replica status read tells whether the rest of the link checks can run at all
        try:
            self.configured[dc] = admin.replica_status(conn) is not None
            self.status_readable[dc] = True
        except pymysql.err.MySQLError:
            self.status_readable[dc] = False

    def check_app(self, dc: str) -> None:
        """The application's account, through the application's path (its proxy): the grants
        the workload needs, and that the path leads to `dc` at all."""
        user = self.env.accounts.app.user
        proxy = f"app:{dc}"
        where = f"{user} via {proxy}"
        if "app" in self.unavailable:
            self.report.skip("app", where, f"the application account on {dc} not checked: its password could not be read")
            return
        if proxy not in self.topo.proxies:
            why = ("the Toxiproxy API did not answer" if self.live is None
                   else f"the proxy mapped to {proxy} is not in Toxiproxy (see proxy)")
            self.report.skip("app", where, f"the application account on {dc} not checked: {why}")
            return
        address = self.topo.proxies[proxy].listen
        conn, code, message = self._connect(dc, "app", "service")
        if conn is None:
            self.report.problem("app", where, f"the application account {user} cannot reach {dc} through {proxy} "
                                f"({address}): MySQL error {code if code is not None else '?'} {message}",
                                self._login_fix(dc, "app", code, address, f"toxiproxy.proxies[{proxy}]"))
            return
        try:
            row = _row(conn, "SELECT CURRENT_USER() AS account, @@GLOBAL.server_id AS server_id, VERSION() AS version")
            expected = self.info.get(dc, {}).get("server_id")
            if expected is not None and int(row["server_id"]) != expected:
                other = next((d for d, i in self.info.items() if i.get("server_id") == int(row["server_id"])), None)
                leads = f"{other} (server_id {row['server_id']})" if other else f"server_id {row['server_id']}"
                self.report.problem("proxy", f"{proxy} ({self.env.toxiproxy.proxies[proxy]})",
                                    f"the application's path {proxy} ({address}) leads to {leads}, not to {dc} "
                                    f"(server_id {expected})",
                                    self._upstream_fix(proxy, str(getattr(self.env.servers, dc).observer)))
            flavor = dialect_for_version(str(row["version"])).flavor
            self._report_needs("app", dc, conn, str(row["account"]), flavor, app_needs(writes=self.env.writes),
                               "application account")
        finally:
            conn.close()

    def check_repl(self, dc: str) -> None:
        """The replication account, where it can log in from here: REPLICATION SLAVE on both
        servers (the link today, the reversed link after a failover). Many sites allow it only
        from the other data centre, so a refused login is not checked, not a problem."""
        user = self._account("repl")
        where = f"{user} on {dc}"
        if "repl" in self.unavailable:
            self.report.skip("repl", where, f"the replication account on {dc} not checked: its password could not be read")
            return
        if dc not in self.conns:
            if "admin" not in self.unavailable:
                self.report.skip("repl", where, f"the replication account on {dc} not checked: {dc} did not answer")
            return
        if self.env.accounts.repl is None:
            conn, own = self.conns[dc], True
        else:
            conn, code, message = self._connect(dc, "repl", "observer")
            own = False
            if conn is None:
                self.report.skip("repl", where, f"the replication account {user} cannot log in to {dc} from here "
                                                f"(MySQL error {code if code is not None else '?'}): its grants not checked")
                return
        try:
            row = _row(conn, "SELECT CURRENT_USER() AS account, VERSION() AS version")
            flavor = dialect_for_version(str(row["version"])).flavor
            self._report_needs("repl", dc, conn, str(row["account"]), flavor, repl_needs(), "replication account")
        finally:
            if not own:
                conn.close()

    # ---- the link -------------------------------------------------------------------------------------
    def _dc_behind(self, host: str, port: int) -> str | None:
        dc = self.topo.source_behind(host, port)
        if dc is not None:
            return dc
        address = f"{host}:{port}"
        for name, px in self.topo.proxies.items():
            if name.startswith("link:") and same_address(px.listen, address):
                return name[len("link:"):].split("->")[0]
        return next((d for d, s in self.topo.servers.items() if same_address(f"{s.host}:{s.port}", address)), None)

    def _link_target(self, source: str, replica: str) -> tuple[str, int, str]:
        name = LINK_PROXY[(source, replica)]
        if name in self.topo.proxies:
            host, port = self.topo.proxies[name].listen.rsplit(":", 1)
            return host, int(port), f"through {name}"
        s = self.topo.servers[source]
        return s.host, s.port, f"{source}'s own address (no link proxy mapped)"

    def _change_source_fix(self, source: str, replica: str) -> str:
        host, port, how = self._link_target(source, replica)
        d = admin.dialect(self.conns[replica])
        repl = self._account("repl")
        if d.flavor == "mysql":
            change = (f"CHANGE REPLICATION SOURCE TO SOURCE_HOST={sql_literal(host)}, SOURCE_PORT={port}, "
                      f"SOURCE_USER={sql_literal(repl)}, SOURCE_PASSWORD='<{self._variable('repl')}>', SOURCE_AUTO_POSITION=1;")
        else:
            change = (f"CHANGE MASTER TO MASTER_HOST={sql_literal(host)}, MASTER_PORT={port}, MASTER_USER={sql_literal(repl)}, "
                      f"MASTER_PASSWORD='<{self._variable('repl')}>', MASTER_USE_GTID=slave_pos;")
        return f"on {replica} (to read from {source} {how}): {d.stop_replica()}; {change} {d.start_replica()};"

    def check_replication(self) -> None:
        source, replica = self.env.replication.source, self.env.replication.replica
        where = f"{source} -> {replica}"
        readable = {}
        for dc in (replica, source):
            readable[dc] = dc in self.conns and bool(self.status_readable.get(dc))
            if dc not in self.conns:
                self.report.skip("replication", dc, f"the link {where} not checked on {dc}: {dc} did not answer "
                                                    "(see server)")
            elif not readable[dc]:
                self.report.skip("replication", dc, f"the link {where} not checked on {dc}: the admin account cannot "
                                                    f"read replica status there (see grants)")
        if readable[replica]:
            self._check_replica(source, replica)
        if readable[source]:
            self._check_source(source, replica)

    def _check_replica(self, source: str, replica: str) -> None:
        """On the replica: it replicates, both threads run, from the declared source, through
        the declared link proxy."""
        where = f"{source} -> {replica}"
        rs = admin.replica_status(self.conns[replica])
        if rs is None:
            self.report.problem("replication", where, f"{replica} is not a replica at all: the declared link {where} "
                                "does not exist", self._change_source_fix(source, replica))
        else:
            behind = self._dc_behind(rs.source_host, rs.source_port)
            reads = f"{rs.source_host}:{rs.source_port}"
            if behind != source:
                self.report.problem("replication", where,
                                    f"{replica} reads from {behind or 'an unknown server'} ({reads}), not from the "
                                    f"declared source {source}", self._change_source_fix(source, replica))
            else:
                link = LINK_PROXY[(source, replica)]
                if link in self.topo.proxies and not same_address(self.topo.proxies[link].listen, reads):
                    self.report.problem("replication", where,
                                        f"{replica} reads from {source} directly ({reads}), not through {link} "
                                        f"({self.topo.proxies[link].listen}): faults on the link would not reach it",
                                        self._change_source_fix(source, replica))
                if rs.io_running and rs.sql_running:
                    stale = rs.last_io_error or rs.last_sql_error
                    via = f"{LINK_PROXY[(source, replica)]} " if LINK_PROXY[(source, replica)] in self.topo.proxies else ""
                    self.report.passed("replication", where, f"{replica} replicates from {source} via {via}{reads}: IO and SQL "
                                       f"threads running, lag {rs.lag_s if rs.lag_s is not None else '?'}s"
                                       + (f" (an earlier error is still shown: {stale})" if stale else ""))
                else:
                    d = admin.dialect(self.conns[replica])
                    for thread, running, error in (("IO", rs.io_state == "Yes", rs.last_io_error),
                                                   ("SQL", rs.sql_running, rs.last_sql_error)):
                        if running:
                            continue
                        state = rs.io_state if thread == "IO" else "No"
                        self.report.problem("replication", where,
                                            f"{replica}'s {thread} thread is not running ({state})"
                                            + (f": last {thread} error: {error}" if error else ""),
                                            ("fix the cause shown, then " if error else "")
                                            + f"on {replica}: {d.start_replica()};")

    def _check_source(self, source: str, replica: str) -> None:
        """On the declared source: it is not itself a replica of the replica (a circular link)."""
        src = admin.replica_status(self.conns[source])
        if src is not None:
            behind = self._dc_behind(src.source_host, src.source_port)
            running = src.io_running or src.io_state == "Connecting" or src.sql_running
            if behind == replica and running:
                d = admin.dialect(self.conns[source])
                self.report.problem("replication", source,
                                    f"the declared source {source} is itself a replica of {replica} "
                                    f"({src.source_host}:{src.source_port}, IO {src.io_state}, SQL "
                                    f"{'Yes' if src.sql_running else 'No'}): a circular link",
                                    f"on {source}, if it should only be the source: {d.stop_replica()}; {d.reset_replica()};")
            elif behind == replica:
                self.report.passed("replication", source, f"{source} keeps a stopped replica configuration towards {replica} "
                                                          "(not running: harmless)")
            else:
                self.report.passed("replication", source, f"{source} is not a replica of {replica}")
        else:
            self.report.passed("replication", source, f"{source} is not a replica of {replica}")

    # ---- active-active: attached and verified -------------------------------------------------------
    def check_active_active(self) -> None:
        """Both links, distinct identities, the mode's filters on each link — the one judgement
        a run makes before it starts (`drills.active_active.attached.differences`). The loop
        check writes a marker row: a drill runs it (where writes are allowed), never env check."""
        from drills.active_active import attached

        where = "dc1 <-> dc2"
        if self._declared(quiet=False) is None:
            return
        aa = attached.settings(self.env)
        found = attached.differences(attached.observe(self.topo), attached.expected(self.topo, aa),
                                     self.topo.source_behind)
        fix = (f"make the pair what {self.file} declares (drills never reconfigures it), or correct `active_active` / "
               f"replication.filter_list in {self.file}")
        for difference in found:
            self.report.problem("active-active", where, difference, fix)
        if not found:
            self.report.passed("active-active", where, f"both links run through their proxies with distinct server and "
                                                       f"GTID domain ids and the mode's filters (central unit "
                                                       f"{aa.central})")
        if self.env.writes == "none":
            self.report.skip("active-active", "loop check", "not verified: the loop check writes a marker row and "
                                                            f"environment {self.env.name} allows no writes (writes: none)")
        else:
            self.report.skip("active-active", "loop check", "runs at the start of each drill, in drills_canary (env "
                                                            "check writes nothing)")

    # ---- the filter list ----------------------------------------------------------------------------
    def _declared(self, quiet: bool = False) -> FilterList | None:
        try:
            return self.topo.declared_filters
        except UserError as exc:
            if not quiet:
                self.report.problem("filters", self.env.replication.filter_list.as_posix(),
                                    f"the declared filter list cannot be read: {exc.message}",
                                    f"correct replication.filter_list in {self.file} or the file it names")
            return None

    def check_filters(self) -> None:
        replica = self.env.replication.replica
        declared_list = self._declared()
        if declared_list is None:
            return
        file = self.topo.filter_list_file
        if replica not in self.conns:
            self.report.skip("filters", replica, f"the effective filters on {replica} not checked: it did not answer")
            return
        try:
            effective = admin.read_filters(self.conns[replica])
        except pymysql.err.MySQLError as exc:
            self.report.skip("filters", replica, f"the effective filters on {replica} could not be read: MySQL error "
                                                 f"{exc.args[0]}")
            return
        declared = declared_list.as_filters()
        diffs = filter_differences(declared, effective)
        d = admin.dialect(self.conns[replica])
        lines = {e.name: e.line for e in declared_list.entries}
        for kind, entry, how in diffs:
            variable = "replicate_ignore_table" if kind == "ignore_tables" else "replicate_wild_ignore_table"
            key = "table" if kind == "ignore_tables" else "pattern"
            apply = filter_apply_fix(d, replica, declared, kind, self.configured.get(replica, True))
            if how == "missing":
                at = f"{file}:{lines[entry]}" if lines.get(entry) else file
                self.report.problem("filters", f"{replica} {variable}",
                                    f"{entry} is declared in {at} ({variable}) but {replica} does not apply it: "
                                    f"it replicates what the file says must not",
                                    f"{apply} (and the same in {replica}'s server configuration, so a restart keeps it) "
                                    f"— or, if {entry} should replicate, remove `{key}: {entry}` from {at}")
            else:
                self.report.problem("filters", f"{replica} {variable}",
                                    f"{replica} applies {entry} ({variable}) which {file} does not declare: "
                                    f"that table is not replicated and no drill expects it",
                                    f"add `- {key}: {entry}` (with its reason) to {file} if it is meant — or {apply}")
        if not diffs:
            n = len(declared["ignore_tables"]) + len(declared["wild_ignore_tables"])
            self.report.passed("filters", replica, f"{replica} applies exactly the {n} declared filter entries of {file}")

    # ---- proxies ------------------------------------------------------------------------------------
    def _upstream_fix(self, path: str, expected: str) -> str:
        theirs = self.env.toxiproxy.proxies[path]
        return (f"curl -sS -X POST {self.api}/proxies/{theirs} -H 'Content-Type: application/json' "
                f"-d '{{\"upstream\": \"{expected}\"}}' (or correct toxiproxy.proxies[{path}] in {self.file})")

    def check_proxies(self) -> None:
        if self.live is None:
            self.report.skip("proxy", self.api, "the mapped proxies not checked: the Toxiproxy API did not answer")
            return
        expected = expected_upstreams(self.env)
        mapped = self.env.toxiproxy.proxies
        for path in PATHS:
            theirs = mapped.get(path)
            if theirs is None:
                self.report.skip("proxy", path, f"{path} is mapped to no proxy: faults on that path are impossible")
                continue
            where = f"{path} ({theirs})"
            proxy = self.live.get(theirs)
            if proxy is None:
                self.report.problem("proxy", where, f"{path} is mapped to the proxy {theirs!r}, which Toxiproxy at "
                                    f"{self.api} does not have",
                                    f"curl -sS -X POST {self.api}/proxies -H 'Content-Type: application/json' -d "
                                    f"'{{\"name\": \"{theirs}\", \"listen\": \"<the address the clients use>\", "
                                    f"\"upstream\": \"{expected[path]}\"}}' (or correct toxiproxy.proxies[{path}] "
                                    f"in {self.file})")
                continue
            clean = True
            if not same_address(proxy.upstream, expected[path]):
                clean = False
                self.report.problem("proxy", where, f"proxy {theirs} ({path}) points at {proxy.upstream}, but "
                                    f"{path} must lead to {expected[path]} ({_target(path)})",
                                    self._upstream_fix(path, expected[path]))
            if not proxy.enabled:
                clean = False
                self.report.problem("proxy", where, f"proxy {theirs} ({path}) is disabled: nothing passes through it",
                                    f"curl -sS -X POST {self.api}/proxies/{theirs} -H 'Content-Type: application/json' "
                                    "-d '{\"enabled\": true}' (or: toxiproxy-cli toggle " + theirs + ")")
            if proxy.toxics:
                clean = False
                names = ", ".join(f"{t.name} ({t.type})" for t in proxy.toxics)
                self.report.problem("proxy", where, f"proxy {theirs} ({path}) still has toxics: {names} — a drill "
                                    "would start with a fault already active",
                                    "; ".join(f"curl -sS -X DELETE {self.api}/proxies/{theirs}/toxics/{t.name}"
                                              for t in proxy.toxics))
            if clean:
                self.report.passed("proxy", where, f"proxy {theirs} ({path}) exists, is enabled, has no toxics and "
                                                   f"leads to {proxy.upstream} ({_target(path)})")


def _version_text(raw: str) -> str:
    """Toxiproxy answers /version with plain text (older) or `{"version": ...}` (2.x)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    return str(doc.get("version", raw)) if isinstance(doc, dict) else raw


def _target(path: str) -> str:
    if path.startswith("app:"):
        return f"{path[4:]}'s server"
    if path.startswith("link:"):
        return f"the link's source {path[5:].split('->')[0]}"
    return "etcd"


def _tuples(conn: pymysql.connections.Connection, sql: str, args: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _row(conn: pymysql.connections.Connection, sql: str) -> dict[str, Any]:
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql)
        return dict(cur.fetchone() or {})
