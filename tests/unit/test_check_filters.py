from __future__ import annotations

from pathlib import Path

from test_check_history import Drill

from drills import events as ev
from drills.checks import filters
from drills.filter_list import load

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "filter_list.yaml"
DECLARED = load(FIXTURE)
DDL = "CREATE TABLE `app_config` (\n  `config_key` varchar(128) NOT NULL,\n  PRIMARY KEY (`config_key`)\n) ENGINE=InnoDB{ai}"


def observed(effective: dict | None = None, *, canaries: bool = True, control_found: bool = True,
             schema: dict | None = None) -> Drill:
    d = Drill()
    d.event(ev.OBSERVE_FILTERS, "observer", replica="dc2", source="dc1", effective=effective or DECLARED.as_filters(),
            declared=DECLARED.as_filters())
    if canaries:
        for n, table in enumerate(["app.app_config", "app.job_switch", "app.job_log", "app.tmp_orders_bak_20260101",
                                   "bi.daily_sales"]):
            d.event(ev.CANARY_WRITE, "observer", table=table, source="dc1", marker=f"m{n}", filtered=True)
            d.event(ev.CANARY_OBSERVED, "observer", table=table, replica="dc2", marker=f"m{n}", found=False, caught_up=True)
        d.event(ev.CANARY_WRITE, "observer", table="app.customers", source="dc1", marker="ctl", filtered=False)
        d.event(ev.CANARY_OBSERVED, "observer", table="app.customers", replica="dc2", marker="ctl", found=control_found,
                caught_up=True)
    d.event(ev.OBSERVE_SCHEMA, "observer", table="app.app_config",
            definitions=schema or {"dc1": DDL.format(ai=" AUTO_INCREMENT=5"), "dc2": DDL.format(ai="")})
    return d


def test_everything_in_order_passes() -> None:
    v = filters.check(observed().history(), declared=DECLARED)
    assert v.status == "passed", v.summary
    assert v.evidence["filters"]["observed_directions"] == ["dc1->dc2"]
    assert "5 filtered table(s)" in v.summary


def test_effective_filters_missing_an_entry_fail() -> None:
    effective = DECLARED.as_filters()
    effective["ignore_tables"] = [t for t in effective["ignore_tables"] if t != "app.job_log"]
    v = filters.check(observed(effective).history(), declared=DECLARED)
    assert v.status == "failed"
    m = v.evidence["filters"]["mismatches"][0]
    assert m["missing"] == ["app.job_log"] and m["extra"] == [] and m["direction"] == "dc1->dc2"
    assert "missing app.job_log" in v.summary


def test_reversal_that_dropped_the_filter_list_fails() -> None:
    d = observed()
    d.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters={"ignore_tables": [], "wild_ignore_tables": []})
    v = filters.check(d.history(), declared=DECLARED)
    assert v.status == "failed"
    m = v.evidence["filters"]["mismatches"][0]
    assert m["direction"] == "dc2->dc1" and m["source"] == "applied on reversal" and "app.app_config" in m["missing"]
    assert v.evidence["filters"]["applied_only_directions"] == ["dc2->dc1"]


def test_reversal_with_the_same_list_passes_and_is_named_applied_only() -> None:
    d = observed()
    d.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters=DECLARED.as_filters())
    v = filters.check(d.history(), declared=DECLARED)
    assert v.status == "passed"
    assert v.evidence["filters"]["applied_only_directions"] == ["dc2->dc1"]


def test_canary_that_reaches_the_replica_fails() -> None:
    d = observed()
    d.event(ev.CANARY_WRITE, "observer", table="app.app_config", source="dc1", marker="leak", filtered=True)
    d.event(ev.CANARY_OBSERVED, "observer", table="app.app_config", replica="dc2", marker="leak", found=True, caught_up=True)
    v = filters.check(d.history(), declared=DECLARED)
    assert v.status == "failed" and v.measured["canaries_leaked"] == 1
    assert "app.app_config on dc1 appeared on dc2" in v.summary


def test_control_canary_missing_makes_canaries_inconclusive() -> None:
    v = filters.check(observed(control_found=False).history(), declared=DECLARED)
    assert v.status == "unknown" and "control canary" in v.summary


def test_schema_drift_on_a_filtered_table_fails() -> None:
    drifted = {"dc1": DDL.format(ai=""), "dc2": DDL.replace("varchar(128)", "varchar(64)").format(ai="")}
    v = filters.check(observed(schema=drifted).history(), declared=DECLARED)
    assert v.status == "failed"
    drift = v.evidence["schema"]["drift"][0]
    assert drift["table"] == "app.app_config" and any("varchar(64)" in line for line in drift["difference"])
    missing = filters.check(observed(schema={"dc1": DDL.format(ai=""), "dc2": None}).history(), declared=DECLARED)
    assert missing.status == "failed" and "missing on dc2" in missing.summary


def test_nothing_observed_is_unknown() -> None:
    v = filters.check(Drill().history(), declared=DECLARED)
    assert v.status == "unknown" and "never read back" in v.summary
    no_canaries = filters.check(observed(canaries=False).history(), declared=DECLARED)
    assert no_canaries.status == "unknown" and "no canary" in no_canaries.summary
