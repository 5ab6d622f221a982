"""What a table *is*, inferred from structure, data and use: sequence allocator,
environment-specific configuration, dual-write table, business table referenced by others.

Names lie (the incident's table was called `id_sequence`, the next one will be
`biz_counter` or `leaf_alloc`), so each classifier wants structural evidence and returns
the evidence it found as sentences; the findings quote them, so a DBA can see why the
audit thinks so and argue with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from drills.audit.schema import COUNTER_TYPES, INTEGER_TYPES, TEXT_TYPES, Schema, Table

# ---- sequence / ID allocator ------------------------------------------------------------------

_SEQ_NAME = re.compile(r"seq|alloc|segment|ticket|idgen|id_gen|generator|leaf|serial|号段|序列", re.I)
_COUNTER_NAME = re.compile(
    r"^(next_?val(ue)?|nextval|cur(rent)?_?val(ue)?|max_?id|cur(rent)?_?id|last_?id|next_?id|seq(uence)?(_?(no|num|val|value))?|counter|id_?value)$",
    re.I,
)
_STEP_NAME = re.compile(r"^(step|incr(ement)?|cache(_?size)?|batch(_?size)?|segment(_?size)?|fetch_?size|delta)$", re.I)
_SEQ_COMMENT = re.compile(r"sequence|allocat|segment|号段|序列|发号|自增|id\s*生成|ID生成", re.I)


def _last_insert_id_use(text: str, column_names: Iterable[str]) -> str | None:
    """`col = LAST_INSERT_ID(col + step)` or `col = col + n` for one of the table's columns."""
    for col in column_names:
        c = re.escape(col)
        if re.search(rf"`?{c}`?\s*=\s*LAST_INSERT_ID\s*\(\s*`?{c}`?\s*\+", text, re.I):
            return f"`{col} = LAST_INSERT_ID({col} + ...)`"
        if re.search(rf"\bSET\s+`?{c}`?\s*=\s*`?{c}`?\s*\+", text, re.I):
            return f"`SET {col} = {col} + ...`"
    return None


def _mentions_table(text: str, table: Table) -> bool:
    name = re.escape(table.name)
    return re.search(rf"(?:^|[\s.`(]){name}(?:[\s`]|$)", text, re.I) is not None


def sequence_evidence(table: Table, schema: Schema, statements: Iterable[str] = ()) -> list[str]:
    """Why `table` looks like a sequence / ID allocator; empty if it does not.

    Shapes: a small table with a text key (the sequence name) and an integer counter
    (segment allocators, Leaf's `leaf_alloc`), or a Flickr-style ticket table (an
    AUTO_INCREMENT id and a unique stub, used with REPLACE INTO + LAST_INSERT_ID()), or a
    MariaDB SEQUENCE. A shape alone is not enough (a page-view counter has the first
    shape); it needs use (LAST_INSERT_ID / `col = col + n` in statements, procedures or
    the DDL's own comments), a counter feeding another table's key, or a telling name.
    """
    if table.is_sequence:
        return ["a MariaDB SEQUENCE object"]
    cols = list(table.columns.values())
    if not cols or len(cols) > 8:
        return []
    key_cols = _single_key_columns(table)
    text_keys = [c for c in key_cols if (col := table.column(c)) is not None and col.type in TEXT_TYPES]
    counters = [
        c for c in cols
        if c.type in COUNTER_TYPES and not c.auto_increment and c.name.lower() not in {k.lower() for k in key_cols}
        and not _STEP_NAME.match(c.name) and not (c.type == "decimal" and "," in c.type_args and not c.type_args.endswith(",0"))
    ]
    ticket = (
        len(cols) <= 3
        and (ai := table.auto_increment_column) is not None
        and ai.type in INTEGER_TYPES
        and any(c.type in TEXT_TYPES and (c.name,) in [tuple(u) for u in table.unique_keys] for c in cols)
    )
    if not ((text_keys and counters) or ticket):
        return []

    evidence: list[str] = []
    names = [c.name for c in cols]
    shape = (
        f"a ticket table (AUTO_INCREMENT `{table.auto_increment_column.name}` and a unique stub)"  # type: ignore[union-attr]
        if ticket and not (text_keys and counters)
        else f"key `{text_keys[0]}` and integer counter `{counters[0].name}`"
    )
    # use: statements seen in the dump, in traffic, in the DDL's comments
    for sql in statements:
        if not _mentions_table(sql, table):
            continue
        use = _last_insert_id_use(sql, names)
        if use:
            evidence.append(f"updated with {use}")
            break
        if ticket and re.search(r"REPLACE\s+INTO", sql, re.I) and "last_insert_id" in sql.lower():
            evidence.append("used with REPLACE INTO + LAST_INSERT_ID()")
            break
    own_text = " ".join(table.ddl_comments + [table.comment] + [c.comment for c in cols])
    use = _last_insert_id_use(own_text, names)
    if use and not evidence:
        evidence.append(f"its DDL comment says it is updated with {use}")
    elif _SEQ_COMMENT.search(own_text):
        evidence.append("its comments describe an ID sequence/allocator")
    # feeds another table's key
    fed = _fed_tables(table, text_keys, schema)
    if fed:
        evidence.append("its counter rows name " + ", ".join(fed[:3]) + " whose integer key has no AUTO_INCREMENT")
    if _SEQ_NAME.search(table.name):
        evidence.append(f"its name `{table.name}`")
    counter_hint = [c.name for c in counters if _COUNTER_NAME.match(c.name)]
    step_hint = [c.name for c in cols if _STEP_NAME.match(c.name)]
    if counter_hint and (step_hint or evidence):
        evidence.append(f"counter column `{counter_hint[0]}`" + (f" with step column `{step_hint[0]}`" if step_hint else ""))
    elif counter_hint and step_hint:
        evidence.append(f"counter `{counter_hint[0]}` and step `{step_hint[0]}`")
    if not evidence:
        return []
    return [shape, *evidence]


def worth_sampling(table: Table) -> bool:
    """Live audits read rows only of small tables whose rows are evidence: environment
    candidates (values compared between sides) and key + counter tables (rows naming the
    tables they feed)."""
    if is_env_candidate(table):
        return True
    if len(table.columns) > 8:
        return False
    keys = _single_key_columns(table)
    has_text_key = any((c := table.column(k)) is not None and c.type in TEXT_TYPES for k in keys)
    return has_text_key and any(c.type in COUNTER_TYPES and not c.auto_increment for c in table.columns.values())


def _single_key_columns(table: Table) -> list[str]:
    keys = []
    if len(table.primary_key) == 1:
        keys.append(table.primary_key[0])
    keys += [u[0] for u in table.unique_keys if len(u) == 1]
    return keys


def _fed_tables(table: Table, text_keys: list[str], schema: Schema) -> list[str]:
    if not table.rows or not text_keys:
        return []
    names = [c.lower() for c in (table.row_columns or list(table.columns))]
    key = text_keys[0].lower()
    if key not in names:
        return []
    k = names.index(key)
    db_tables = {t.name.lower(): t for t in schema if t.db.lower() == table.db.lower() and t is not table}
    fed = []
    for row in table.rows[:200]:
        if k >= len(row) or not isinstance(row[k], str):
            continue
        value = row[k].lower().replace("-", "_").replace(".", "_")
        for candidate in (value, value + "s", value + "es", *(n for n in db_tables if n.endswith("_" + value) or n.endswith("_" + value + "s"))):
            other = db_tables.get(candidate)
            if other is None or len(other.primary_key) != 1:
                continue
            pk = other.column(other.primary_key[0])
            if pk is not None and pk.type in INTEGER_TYPES and not pk.auto_increment:
                fed.append(f"{other.full_name}.{pk.name}")
                break
    return sorted(set(fed))


# ---- environment-specific values -----------------------------------------------------------------

_ENV_TOKENS = frozenset(
    {
        "host", "hostname", "ip", "ipaddr", "ip_addr", "url", "uri", "domain", "endpoint", "endpoints",
        "password", "passwd", "pwd", "secret", "token", "dsn", "jdbc", "addr", "callback", "webhook",
        "accesskey", "secretkey", "apikey"
    }
)
_ENV_COMPOUND = re.compile(r"access_?key|secret_?key|api_?key|app_?secret|private_?key|client_?secret", re.I)
_KV_KEY = re.compile(r"(^|_)(key|name|code|item|param|prop(erty)?)$", re.I)
_KV_VALUE = re.compile(r"(^|_)(value|val|content|setting)$", re.I)
_ENV_VALUE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://\S+"  # URL
    r"|(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?"  # IPv4[:port]
    r"|jdbc:\S+"
    r"|(?=[a-z0-9.-]*[a-z])[a-z0-9-]+(?:\.[a-z0-9-]+)+\.[a-z]{2,}(?::\d+)?)$",  # host.domain.tld[:port]
    re.I,
)


def _tokens(name: str) -> list[str]:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [t for t in name.lower().split("_") if t]


def env_columns(table: Table) -> list[str]:
    """Columns whose names say they hold hosts, IPs, URLs, domains or credentials."""
    out = []
    for c in table.columns.values():
        toks = _tokens(c.name)
        if set(toks) & _ENV_TOKENS or _ENV_COMPOUND.search(c.name):
            out.append(c.name)
    return out


def key_value_columns(table: Table) -> tuple[str, str] | None:
    """(key, value) columns of a key/value configuration table (`config_key`/`config_value`)."""
    if len(table.columns) > 8:
        return None
    keys = [c for c in table.columns.values() if c.type in TEXT_TYPES and _KV_KEY.search(c.name)]
    values = [c for c in table.columns.values() if c.type in TEXT_TYPES and _KV_VALUE.search(c.name)]
    if keys and values:
        return keys[0].name, values[0].name
    return None


def looks_like_env_value(value: object) -> bool:
    return isinstance(value, str) and len(value) < 2048 and _ENV_VALUE.match(value.strip()) is not None


def is_env_candidate(table: Table) -> bool:
    return bool(env_columns(table)) or key_value_columns(table) is not None


def row_differences(a: Table, b: Table) -> tuple[list[str], list[str]] | None:
    """Compare the rows both sides have for one table (seed rows or live samples).

    Returns (keys that differ, columns that differ), or None when either side has no rows
    to compare. Keys are shown, values never are: they may be passwords."""
    if a.rows is None or b.rows is None:
        return None
    a_rows, b_rows = _keyed(a), _keyed(b)
    keys_differ: list[str] = []
    cols_differ: set[str] = set()
    for k in sorted(set(a_rows) | set(b_rows), key=str):
        ra, rb = a_rows.get(k), b_rows.get(k)
        if ra is None or rb is None:
            keys_differ.append(str(k))
            cols_differ.update((ra or rb or {}).keys())
            continue
        changed = [c for c in ra if c in rb and _norm(ra[c]) != _norm(rb[c])]
        if changed:
            keys_differ.append(str(k))
            cols_differ.update(changed)
    return keys_differ, sorted(cols_differ)


def _norm(v: object) -> str:
    return "" if v is None else str(v)


def _keyed(t: Table) -> dict[object, dict[str, object]]:
    rows = t.rows_as_dicts()
    pk = [c.lower() for c in t.primary_key]
    if pk and rows and all(c in rows[0] for c in pk):
        kv = key_value_columns(t)
        key_cols = pk
        if kv and pk != [kv[0].lower()] and t.column(pk[0]) is not None and t.column(pk[0]).auto_increment:  # type: ignore[union-attr]
            key_cols = [kv[0].lower()]  # surrogate ids may differ; the config key is the identity
        return {tuple(_norm(r.get(c)) for c in key_cols) if len(key_cols) > 1 else _norm(r.get(key_cols[0])): r for r in rows}
    return {tuple(sorted((k, _norm(v)) for k, v in r.items())): r for r in rows}


def env_values_in(table: Table, columns: Iterable[str]) -> bool:
    cols = [c.lower() for c in columns]
    return any(looks_like_env_value(r.get(c)) for r in table.rows_as_dicts() for c in cols)


# ---- dual-write hints and references --------------------------------------------------------------

_DUAL_NAME = frozenset(
    {
        "log", "logs", "job", "jobs", "switch", "switches", "heartbeat", "lock", "locks", "task", "tasks",
        "schedule", "scheduler", "trace"
    }
)
_DC_COLUMNS = frozenset(
    {
        "dc", "idc", "dc_id", "idc_id", "dc_name", "datacenter", "data_center", "region", "zone", "unit",
        "cell", "site"
    }
)


def dual_write_hint(table: Table) -> str | None:
    """A name of the job-log / switch kind together with a column saying which DC wrote the row."""
    toks = set(_tokens(table.name))
    dc_cols = [c.name for c in table.columns.values() if c.name.lower() in _DC_COLUMNS]
    if toks & _DUAL_NAME and dc_cols:
        return f"name `{table.name}` and data-centre column `{dc_cols[0]}`"
    return None


def references(schema: Schema) -> dict[str, list[str]]:
    """table key -> `db.table.column` of other tables that point at it, by FOREIGN KEY or by
    the `<entity>_id` naming convention (litemall has no FKs, only `order_id` columns)."""
    by_entity: dict[tuple[str, str], list[str]] = {}
    for t in schema:
        toks = _tokens(t.name)
        for i in range(len(toks)):
            by_entity.setdefault((t.db.lower(), "_".join(toks[i:])), []).append(t.key)
    refs: dict[str, list[str]] = {}
    for t in schema:
        for fk in t.foreign_keys:
            if fk.ref_table != t.key:
                refs.setdefault(fk.ref_table, []).append(f"{t.full_name}.{','.join(fk.columns)}")
        for c in t.columns.values():
            n = c.name.lower()
            if not n.endswith("_id") or len(n) <= 3 or c.type not in INTEGER_TYPES:
                continue
            entity = n[:-3]
            for cand in (entity, entity + "s", entity + "es"):
                targets = by_entity.get((t.db.lower(), cand))
                if targets:
                    # the most specific table for the entity: the shortest name carrying it
                    target = min(targets, key=len)
                    if target != t.key:
                        refs.setdefault(target, []).append(f"{t.full_name}.{c.name}")
                    break
    return refs
