"""Observed traffic: binlog text, ledger/journal lines and hand-written YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.audit.traffic import load_traffic, parse_server_ids
from drills.errors import ConfigError

FIXTURES = Path(__file__).parents[2] / "fixtures/audit"


def test_binlog_text_attributes_writes_to_the_origin_server() -> None:
    t = load_traffic(FIXTURES / "binlog_dc2.txt", {"1": "dc1", "2": "dc2"})
    assert t.writers("app.job_log") == {"dc1", "dc2"}
    assert t.writers("app.orders") == {"dc1"}
    assert t.writers("app.id_sequence") == {"dc2"}  # statement format, unqualified name after `use app`
    assert any("LAST_INSERT_ID" in s for s in t.statements)


def test_unnamed_server_ids_stay_distinct() -> None:
    t = load_traffic(FIXTURES / "binlog_dc2.txt")
    assert t.writers("app.job_log") == {"server-1", "server-2"}


def test_ledger_and_journal_lines(tmp_path: Path) -> None:
    lines = [
        {"op": 1, "type": "invoke", "f": "write_job_log", "dc": "dc2"},  # invoke alone changed nothing
        {"op": 1, "type": "ok", "f": "write_job_log", "dc": "dc1"},
        {"op": 2, "type": "ok", "f": "write_order", "dc": "dc1"},
        {"op": 3, "type": "fail", "f": "write_order", "dc": "dc2"},
        {"op": 4, "type": "info", "table": "app.job_log", "dc": "dc2"},
        {"seq": 0, "kind": "canary.write", "payload": {"table": "app.canary", "source": "dc1"}},
    ]
    f = tmp_path / "ledger.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    t = load_traffic(f)
    assert t.writers("app.job_log") == {"dc1", "dc2"}
    assert t.writers("app.orders") == {"dc1"}
    assert t.writers("app.canary") == {"dc1"}


def test_yaml_traffic_and_its_errors(tmp_path: Path) -> None:
    assert load_traffic(FIXTURES / "traffic.yaml").writers("app.job_log") == {"dc1", "dc2"}
    bad = tmp_path / "t.yaml"
    bad.write_text("writes:\n  dc1: app.orders\n")
    with pytest.raises(ConfigError, match="`writes.dc1` must be a list"):
        load_traffic(bad)
    bad.write_text("hello: 1\n")
    with pytest.raises(ConfigError, match=r"t.yaml:1: expected a traffic file"):
        load_traffic(bad)
    bad.write_text('{"op": 1}\n{not json\n')
    with pytest.raises(ConfigError, match=r"t.yaml:2: not a JSON line"):
        load_traffic(bad)


def test_server_id_pairs() -> None:
    assert parse_server_ids(["1=dc1", " 2 = dc2 "]) == {"1": "dc1", "2": "dc2"}
    with pytest.raises(ConfigError, match="expected SERVER_ID=DC"):
        parse_server_ids(["dc1=1"])
